module "m" {
  source = "./m"
  count  = count.index + 1
}
