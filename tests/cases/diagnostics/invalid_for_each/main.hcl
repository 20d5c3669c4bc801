value "a" {
  for_each = ["x", "y"]
  input    = each.value
}
