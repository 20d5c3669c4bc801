variable "cidr" {
  default = "x"
}
