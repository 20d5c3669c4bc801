value "a" {
  input = "café"
}
