run "train" {
  workspace        = "ml"
  source_directory = "."
  script           = "train.py"
}

removed {
  from = run.train
  lifecycle {
    destroy = false
  }
}
