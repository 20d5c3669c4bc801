variable "n" {
  type = number

  validation {
    condition     = var.n < 10
    error_message = "n must be < 10."
  }
}
