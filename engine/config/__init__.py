"""Loading, evaluating and validating *.hcl configurations."""
