value "c" {
  count = 1
  input = count.index
}

moved {
  from = value.c[0]
  to   = value.c[5]
}
