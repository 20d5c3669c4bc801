variable "epochs" {
  default = 3
}

value "a" {
  input = var.epoch
}
