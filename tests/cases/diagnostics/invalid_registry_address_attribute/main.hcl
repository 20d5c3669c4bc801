workspace "ml" {
  name = "ml"

  registry {
    address  = "https://registry.example.com/v2"
    username = "alice"
  }
}
