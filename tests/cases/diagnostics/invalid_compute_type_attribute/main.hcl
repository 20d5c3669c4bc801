workspace "ml" {}

compute "gpu" {
  workspace = workspace.ml.id
  type      = "kubernetess"
  max_nodes = 4
}
