variable "epochs" {
  type = number
}

value "a" {
  input = var.epochs
}
