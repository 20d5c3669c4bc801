variable "pw" {
  type      = string
  sensitive = true
}

value "by_key" {
  for_each = { for x in [var.pw] : x => 1 }
  input    = each.value
}

value "by_set" {
  for_each = toset([var.pw])
  input    = 1
}
