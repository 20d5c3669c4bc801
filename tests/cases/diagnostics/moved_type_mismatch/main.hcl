workspace "ml" {}

moved {
  from = value.ml
  to   = workspace.ml
}
