"""Conditions on ticket facts, as written in policy packs.

`{vip: true, stage: [open, acknowledged], "silent!": true, level: {gte: 3}}`:
every key must hold; a list means "one of"; a trailing `!` negates; a dict
with gte/lte/gt/lt compares numbers. A missing fact is None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gte": lambda a, b: a >= b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b,
}


def _one(actual: object, expected: object) -> bool:
    if isinstance(expected, list):
        return actual in expected
    if isinstance(expected, dict):
        if actual is None:
            return False
        return all(_OPS[op](actual, val) for op, val in expected.items())
    return actual == expected


def holds(condition: Mapping[str, Any] | None, facts: Mapping[str, Any]) -> bool:
    for key, expected in (condition or {}).items():
        negate = key.endswith("!")
        name = key[:-1] if negate else key
        if _one(facts.get(name), expected) == negate:
            return False
    return True


def check_condition(condition: Mapping[str, Any] | None) -> None:
    """Raise ValueError for a malformed condition (at load time)."""
    for key, expected in (condition or {}).items():
        if isinstance(expected, dict):
            unknown = set(expected) - set(_OPS)
            if unknown:
                raise ValueError(f"condition on {key!r}: unknown operator(s) {sorted(unknown)}")
