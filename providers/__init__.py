"""Resource providers. Each subpackage implements ``providers.base.Provider``."""
