locals {
  lr = value.sweep.output
}
