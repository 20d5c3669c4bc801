output "o" {
  value = valeu.a.output
}
