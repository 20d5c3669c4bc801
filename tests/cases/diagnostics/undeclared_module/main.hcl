output "o" {
  value = module.net.id
}
