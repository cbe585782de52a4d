"""sim adapters."""
