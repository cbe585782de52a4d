"""Rule: stale or failed data never shrinks the pool.

If any metric a policy needs is missing, failed or older than ``stale_after``, a scale-down
becomes a hold. A scale-up on the remaining data is allowed (adding capacity is safe).
"""

from __future__ import annotations


def no_shrink(desired: int, current: int, problems: tuple[str, ...]) -> tuple[int, str | None]:
    if desired < current and problems:
        return current, f"data: {'; '.join(problems)} -> no scale-down, hold at {current}"
    return desired, None
