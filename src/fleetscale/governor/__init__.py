"""The governor: pure rules between a proposal and a decision (bounds, hysteresis,
stabilisation windows, cooldowns, step limits, warm-up, stale data)."""
