"""Reusable test suites: the provider conformance suite and the backend suite."""
