variable "pw" {
  type      = string
  sensitive = true
}

value "port" {
  input = parseint(var.pw, 10)
}

value "lookup" {
  input = lookup({ a = 1 }, var.pw)
}

value "dup" {
  input = { for x in [var.pw, var.pw] : x => 1 }
}
