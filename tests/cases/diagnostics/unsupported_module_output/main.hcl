module "net" {
  source = "./net"
}

output "o" {
  value = module.net.addres
}
