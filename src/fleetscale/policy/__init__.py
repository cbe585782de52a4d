"""Pure policies: each proposes a desired capacity with a reason."""
