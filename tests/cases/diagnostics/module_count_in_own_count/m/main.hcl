variable "n" {
  default = null
}

value "x" {
  input = var.n
}
