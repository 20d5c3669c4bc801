value "a" {
  input = 1
}

value "b" {
  depends_on = value.a
}
