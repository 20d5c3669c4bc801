value "source" {
  input = "x"
}

value "copy" {}

import {
  to = value.copy
  id = value.source.id
}
