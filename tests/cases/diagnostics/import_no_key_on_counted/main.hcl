value "r" {
  count = 1
}

import {
  to = value.r
  id = "x"
}
