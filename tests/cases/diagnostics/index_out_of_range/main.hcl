locals {
  gpus = [1, 2]
  third = local.gpus[5]
}
