locals {
  name = lowr("Pets")
}
