locals {
  i = count.index
}
