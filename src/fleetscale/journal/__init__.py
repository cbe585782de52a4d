"""journal adapters."""
