value "c" {
  input = 1
}

moved {
  from = value.a
  to   = value.b
}

moved {
  from = value.b
  to   = value.a
}
