variable "pw" {
  type      = string
  sensitive = true
}

output "inverted" {
  value = { for k, v in { a = var.pw } : v => k }
}

output "keys" {
  value = keys({ (var.pw) = 1 })
}

output "allowed" {
  value     = { (var.pw) = 1 }
  sensitive = true
}
