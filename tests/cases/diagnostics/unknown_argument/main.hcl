value "a" {
  inptu = 1
}
