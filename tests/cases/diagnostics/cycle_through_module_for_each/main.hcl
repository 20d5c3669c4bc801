module "a" {
  source   = "./m"
  for_each = toset([module.b.out])
  label    = each.key
}

module "b" {
  source = "./m"
  label  = module.a["x"].out
}
