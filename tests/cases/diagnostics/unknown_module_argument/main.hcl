module "net" {
  source = "./net"
  cdir   = "10.0.0.0/8"
}
