value "a" {
  count = "many"
  input = 1
}
