value "r" {
  input = 1
}
