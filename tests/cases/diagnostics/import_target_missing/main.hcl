value "a" {
  input = 1
}

import {
  to = value.b
  id = "existing-id"
}
