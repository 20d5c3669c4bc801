value "subnet" {
  inptu = "10.0.0.0/8"
}
