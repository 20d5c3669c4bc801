locals {
  name = join(",")
}
