value "data" {
  input = 1
}

value "b" {
  input = value.dat.output
}
