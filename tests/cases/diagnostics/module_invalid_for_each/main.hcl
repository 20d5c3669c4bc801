module "m" {
  source   = "./m"
  for_each = ["x", "y"]
  n        = each.value
}
