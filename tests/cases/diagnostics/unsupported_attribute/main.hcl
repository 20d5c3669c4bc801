value "a" {
  input = 1
}

output "o" {
  value = value.a.outptu
}
