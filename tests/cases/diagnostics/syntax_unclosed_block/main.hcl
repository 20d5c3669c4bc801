value "a" {
  input = 1

value "b" {
  input = 2
}
