variable "gpus" {
  default = 2
}
