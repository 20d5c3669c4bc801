variable "limits" {
  type      = map(number)
  sensitive = true
}

value "a" {
  input = var.limits
}
