module "net" {
  source = "./nett"
}
