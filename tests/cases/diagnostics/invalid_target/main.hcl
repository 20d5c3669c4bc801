value "a" {
  input = 1
}
