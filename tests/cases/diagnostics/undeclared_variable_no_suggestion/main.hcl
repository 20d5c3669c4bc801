value "a" {
  input = var.learning_rate
}
