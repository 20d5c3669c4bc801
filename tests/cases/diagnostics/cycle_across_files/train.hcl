value "sweep" {
  input = {
    lr = local.lr
  }
}
