value "a" {
  input = value.c.output
}

value "b" {
  input = value.a.output
}

value "c" {
  input = value.b.output
}
