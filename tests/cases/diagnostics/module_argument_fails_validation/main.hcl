module "c" {
  source   = "./typed"
  for_each = { a = 1, b = 100 }
  n        = each.value
}
