"""Rule: warm-up. Instances still booting (pending) count as capacity, so a cycle during boot
does not launch again for the same load. The pool's ``current`` already includes them; this
rule only says so in the verdict when it matters (a scale-up while units are booting)."""

from __future__ import annotations


def note(desired: int, current: int, pending: int) -> str | None:
    if pending and desired >= current:
        return f"warm-up: {pending} booting units count as capacity (current {current})"
    return None
