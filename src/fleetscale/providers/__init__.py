"""providers adapters."""
