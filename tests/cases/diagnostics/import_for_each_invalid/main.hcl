value "r" {
  for_each = toset(["a"])
}

import {
  for_each = toset(["a", "b"])
  to       = value.r["a"]
  id       = each.key
}
