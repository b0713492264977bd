"""One mistake in a pack, as `pack check` reports it.

Checks name a mistake by its path in the pack's data and say what is wrong
and how to fix it; `packtools.check` turns the path into `file:line:col`
through `packtools.locate`. Kept apart so every check module shares one
shape and one way of suggesting the name that was meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Loc = tuple[Any, ...]


@dataclass
class Problem:
    loc: Loc  # path in the pack's data (aliases use the YAML key: `from`, not `from_`)
    message: str
    hint: str = ""
    kind: str = "invalid"  # a short code: unknown-party, unknown-event, ...
    at_key: bool = False  # point at the key (an unknown field, a name) rather than its value
    needle: str | None = None  # text inside the scalar to point at (a template placeholder)
    whole: bool = False  # about everything under `loc`: void when pydantic cut any part of it
    also: list[str] = field(default_factory=list)  # other paths reported at the same place

    @property
    def path(self) -> str:
        return ".".join(str(p) for p in self.loc) or "(root)"


def did_you_mean(name: Any, known: Iterable[Any], what: str = "") -> str:
    """`did you mean 'lola'?`, or the known names when none is close."""
    names = sorted({str(k) for k in known})
    close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if not names:
        return f"this pack defines no {what}" if what else ""
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"known {what + ': ' if what else ''}{shown}"


def dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)
