workspace "ws" {}

run "train" {
  workspace        = workspace.ws.id
  source_directory = "."
  command          = ["true"]
}

import {
  to = run.train
  id = "default_1700000000_0badc0de"
}
