variable "password" {
  type      = string
  sensitive = true
}

output "password" {
  value = var.password
}
