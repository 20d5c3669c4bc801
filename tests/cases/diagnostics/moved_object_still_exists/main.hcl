value "a" {
  input = 1
}

value "b" {
  input = 1
}

moved {
  from = value.a
  to   = value.b
}
