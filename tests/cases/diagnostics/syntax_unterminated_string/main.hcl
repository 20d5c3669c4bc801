value "a" {
  input = "abc
}
