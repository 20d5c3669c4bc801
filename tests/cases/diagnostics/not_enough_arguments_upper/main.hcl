locals {
  name = upper()
}
