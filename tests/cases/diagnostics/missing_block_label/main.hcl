value {
  input = 1
}
