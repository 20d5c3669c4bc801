# A hyper-parameter sweep as a module with for_each: one module instance per
# trial (module.trial["fast"], ...), each a process-mode run of the quickstart's
# training code on this machine's Python (numpy; no Docker).  The best trial is
# picked by an output expression.  Add or remove a trial and apply: only that
# trial's run is created or destroyed.
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

variable "trials" {
  description = "Learning rate and epochs of each trial, by trial name."
  type = map(object({
    lr     = number
    epochs = number
  }))
  default = {
    slow = { lr = 0.02, epochs = 3 }
    mid  = { lr = 0.1, epochs = 3 }
    fast = { lr = 0.3, epochs = 3 }
  }
}

module "trial" {
  source   = "./trial"
  for_each = var.trials

  name        = each.key
  lr          = each.value.lr
  epochs      = each.value.epochs
  workspace   = workspace.local.id
  environment = environment.host.id
  compute     = compute.local.id
}

locals {
  accuracies = { for name, t in module.trial : name => t.accuracy }
  best       = [for name, acc in local.accuracies : name if acc == max(values(local.accuracies)...)][0]
}

output "accuracies" {
  value = local.accuracies
}

output "best_trial" {
  value = local.best
}

output "accuracy" {
  description = "The best trial's test accuracy."
  value       = local.accuracies[local.best]
}
