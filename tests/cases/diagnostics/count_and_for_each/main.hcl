value "a" {
  count    = 2
  for_each = toset(["x"])
  input    = 1
}
