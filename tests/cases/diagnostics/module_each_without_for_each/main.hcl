module "m" {
  source = "./m"
  n      = each.key
}
