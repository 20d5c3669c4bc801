variable "gpus" {
  type    = number
  default = 2
}

locals {
  name = lowr("Pets")
}

value "a" {
  input = var.gpu
}

value "b" {
  input = value.a.outptu
}
