locals {
  learning_rate = 0.1
}

value "a" {
  input = local.learning_rat
}
