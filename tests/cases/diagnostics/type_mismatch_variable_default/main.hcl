variable "epochs" {
  type    = number
  default = "abc"
}
