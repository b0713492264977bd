"""Durations as written in policy packs and scenarios: `30m`, `4h`, `1h30m`,
`2d`, `90s`, `+20m`; also plain seconds as a number."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like '30m' or '4h', got {value!r}")
    text = value.strip().lstrip("+").replace(" ", "").lower()
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f"expected a duration like '30m', '4h' or '1h30m', got {value!r}")
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """`timedelta(hours=1, minutes=30)` -> `1h30m` (for summaries people read)."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0m"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + "".join(out)
