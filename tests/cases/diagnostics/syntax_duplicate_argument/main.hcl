value "a" {
  input = 1
  input = 2
}
