compute "gpu-cluster" {
  type      = "local"
  max_nodes = 4
}
