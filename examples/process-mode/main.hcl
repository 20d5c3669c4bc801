# The quickstart's training without Docker: the run uses this machine's
# Python (it needs numpy; with scikit-learn it trains on the real digits,
# without it on a synthetic 8x8 stand-in).
workspace "local" {}

environment "host" {
  workspace = workspace.local.id
  python {
    user_managed_dependencies = true
  }
}

compute "local" {
  workspace           = workspace.local.id
  max_concurrent_runs = 2
}

run "train" {
  workspace        = workspace.local.id
  experiment       = "digits-cnn-host"
  source_directory = "../quickstart/train"   # the same training code as the quickstart
  script           = "train.py"
  arguments        = ["--epochs", 6]
  environment      = environment.host.id
  compute          = compute.local.id
  timeout          = "10m"
}

output "accuracy" {
  value = run.train.metrics.accuracy
}
