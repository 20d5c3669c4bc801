variable "gpus" {
  type = number
}
