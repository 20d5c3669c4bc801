value "a" {
  count = -1
  input = 1
}
