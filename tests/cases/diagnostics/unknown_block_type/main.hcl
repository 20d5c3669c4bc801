valeu "a" {
  input = 1
}
