"""Durations as users write them (Terraform/Go style): "30s", "5m", "1h30m", "500ms", "2d"."""

from __future__ import annotations

import re

__all__ = ["parse_duration"]

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds; ValueError (with what would be right) on anything else."""
    text = (text or "").strip()
    parts = _PART.findall(text)
    if not text or "".join(a + b for a, b in parts) != text:
        raise ValueError(f'invalid duration "{text}": use a number with a unit, like 30s, 5m, 2h or 1h30m')
    return sum(float(n) * _UNIT[u] for n, u in parts)
