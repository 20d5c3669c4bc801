variable "gpus" {
  default = 1
}
