"""compat adapters."""
