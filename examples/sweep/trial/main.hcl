# One trial of the sweep: a training run with its own hyper-parameters.
variable "name" {
  type = string
}

variable "lr" {
  type = number
}

variable "epochs" {
  type = number
}

variable "workspace" {
  type = string
}

variable "environment" {
  type = string
}

variable "compute" {
  type = string
}

run "train" {
  workspace        = var.workspace
  experiment       = "digits-sweep"
  source_directory = "${path.module}/../../quickstart/train"
  script           = "train.py"
  arguments        = ["--epochs", var.epochs, "--lr", var.lr]
  environment      = var.environment
  env_vars         = { TRIAL = var.name }
  compute          = var.compute
  timeout          = "10m"
}

output "accuracy" {
  value = run.train.metrics.accuracy
}

output "run_id" {
  value = run.train.id
}
