variable "label" {}

value "r" {
  input = var.label
}

output "out" {
  value = value.r.output
}
