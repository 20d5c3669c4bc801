value "r" {
  for_each = toset(["a"])
  input    = each.key
}

import {
  to = value.r["b"]
  id = "x"
}
