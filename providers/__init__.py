"""Resource providers. Each subpackage implements ``engine.providers.Provider``."""
