module "net" {
  source = "github.com/acme/net"
}
