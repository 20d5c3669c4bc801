variable "epochs" {
  type = numbr
}
