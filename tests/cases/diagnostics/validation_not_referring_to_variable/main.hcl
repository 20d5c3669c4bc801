variable "gpus" {
  type = number

  validation {
    condition     = 1 > 0
    error_message = "never."
  }
}
