value "a" {
  input = 1

  lifecycle {
    prevent_destory = true
  }
}
