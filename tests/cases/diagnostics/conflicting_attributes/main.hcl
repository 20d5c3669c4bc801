# An environment starts from a base image OR from a Dockerfile, not both.
workspace "ml" {}

environment "train" {
  workspace = workspace.ml.id
  docker {
    base_image = "trainform/python:3.11-bookworm"
    dockerfile = <<-EOT
      FROM trainform/python:3.11-bookworm
      RUN echo hello
    EOT
  }
  python {
    user_managed_dependencies = true
  }
}
