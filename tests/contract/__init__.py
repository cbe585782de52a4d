"""Reusable provider contract: factories per provider and the fault-injection helpers."""
