value "a" {
  input = 1
}

value "a" {
  input = 2
}
