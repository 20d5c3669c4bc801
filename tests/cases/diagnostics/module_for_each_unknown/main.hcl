value "k" {
  input = "x"
}

module "m" {
  source   = "./m"
  for_each = toset([value.k.id])
  n        = each.key
}
