compute "gpu-cluster" {
  workspace = "ws"
  max_nodes = "four"
}
