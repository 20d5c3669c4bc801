"""Built-in resource types that need no external system beyond the file
system and a registry check: ``value`` (like terraform_data) and ``workspace``."""
