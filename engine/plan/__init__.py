"""Plans as plain data: computed by the core, rendered by the CLI."""
