removed {
  from = value.sweep["lr-0.1"]
  lifecycle {
    destroy = false
  }
}
