variable "gpus" {
  type    = number
  default = 16

  validation {
    condition     = var.gpus >= 1 && var.gpus <= 8
    error_message = "gpus must be between 1 and 8."
  }
}

value "a" {
  input = var.gpus
}
