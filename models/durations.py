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


def human_duration(delta: timedelta, approx: bool = False) -> str:
    """`timedelta(hours=48)` -> `48 hours`, `30m` -> `30 minutes`: what an SOP
    says in prose. Hours up to a week (SOPs say "48 hours", not "2 days"),
    whole days beyond. `approx` keeps only the largest sensible unit
    ("139 days", "5 hours") for how late something is."""
    seconds = int(abs(delta.total_seconds()))
    if approx:
        for size, unit in ((2 * 86400, 86400), (2 * 3600, 3600), (60, 60)):
            if seconds >= size:
                seconds -= seconds % unit
                break
    if seconds == 0:
        return "0 minutes"
    if (seconds >= 7 * 86400 and seconds % 86400 == 0) or (approx and seconds >= 2 * 86400):
        parts = [(seconds // 86400, "day")]
    else:
        parts = [
            (seconds // 3600, "hour"),
            (seconds % 3600 // 60, "minute"),
            (seconds % 60, "second"),
        ]
    words = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n]
    return ("-" if delta.total_seconds() < 0 else "") + " ".join(words)
