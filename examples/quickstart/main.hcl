# The quickstart: train a small CNN on scikit-learn's 8x8 digits in a Docker
# environment on this machine.  Run it with scripts/quickstart.sh, or by hand:
#   TRAINFORM_VAR_registry_password=... trainform init && trainform apply

variable "registry_address" {
  type    = string
  default = "127.0.0.1:5000"
}

variable "registry_username" {
  type    = string
  default = "trainform"
}

variable "registry_password" {
  type      = string
  sensitive = true
}

variable "epochs" {
  type    = number
  default = 8
}

workspace "ml" {
  registry {
    address  = var.registry_address
    username = var.registry_username
    password = var.registry_password
  }
}

# A debootstrapped Debian bookworm with python3, numpy and scikit-learn
# (scripts/base-images.sh builds it: nothing is downloaded at run time).
environment "digits" {
  workspace = workspace.ml.id
  docker {
    base_image = "trainform/python:3.11-bookworm"
  }
  python {
    user_managed_dependencies = true
  }
}

compute "local" {
  workspace           = workspace.ml.id
  type                = "local"
  max_concurrent_runs = 1
}

run "train" {
  workspace        = workspace.ml.id
  experiment       = "digits-cnn"
  source_directory = "train"
  script           = "train.py"
  arguments        = ["--epochs", var.epochs]
  environment      = environment.digits.id
  compute          = compute.local.id
  timeout          = "10m"
}

output "accuracy" {
  value = run.train.metrics.accuracy
}

output "model" {
  value = "${run.train.outputs_path}/model.npz"
}
