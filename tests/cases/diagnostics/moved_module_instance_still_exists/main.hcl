module "fe" {
  source   = "./m"
  for_each = toset(["a", "b"])
}

moved {
  from = module.fe["a"]
  to   = module.fe["c"]
}

moved {
  from = module.fe["b"].value.r
  to   = module.fe["c"].value.r
}
