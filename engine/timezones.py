"""IANA time zones from the pinned `tzdata` wheel, never the host's files.

Deadlines are part of workflow history; computing them from a database
that differs between machines (or changes under a running worker) would
make replays disagree. Loading zones from the pinned wheel keeps every
worker on the same rules.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    try:
        ref = resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
        with ref.open("rb") as fh:
            return ZoneInfo.from_file(fh, key=name)
    except (FileNotFoundError, IsADirectoryError, ValueError, ModuleNotFoundError):
        raise ValueError(f"unknown IANA time zone {name!r}") from None
