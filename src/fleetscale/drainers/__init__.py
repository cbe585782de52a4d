"""drainers adapters."""
