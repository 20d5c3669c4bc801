value "a" {
  input = value.a.id
}
