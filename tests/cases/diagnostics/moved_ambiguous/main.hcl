value "b" {
  input = 1
}

value "c" {
  input = 1
}

moved {
  from = value.a
  to   = value.b
}

moved {
  from = value.a
  to   = value.c
}
