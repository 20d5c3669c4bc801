value "a" {
  input = 1

  lifecycel {
    prevent_destroy = true
  }
}
