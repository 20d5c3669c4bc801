resource "value" "a" {
  input = 1
}
