value "a" {
  input = each.key
}
