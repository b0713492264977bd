"""IANA time zones from the pinned `tzdata` wheel, never the host's files.

Deadlines are part of workflow history; computing them from a database
that differs between machines (or changes under a running worker) would
make replays disagree. Loading zones from the pinned wheel keeps every
worker on the same rules.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo


@cache
def zone(name: str) -> ZoneInfo:
    try:
        ref = resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
        with ref.open("rb") as fh:
            return ZoneInfo.from_file(fh, key=name)
    except (FileNotFoundError, IsADirectoryError, ValueError, ModuleNotFoundError):
        raise ValueError(f"unknown IANA time zone {name!r}") from None


def local_time(t: datetime, tz: str, fmt: str = "%a %Y-%m-%d %H:%M") -> str:
    """`Sun 2026-03-08 03:15 PDT (UTC-07:00)`: a zone's wall time with the
    offset in force at that instant (never a fixed offset carried over a
    DST change)."""
    local = t.astimezone(zone(tz))
    offset = local.strftime("%z")
    return local.strftime(f"{fmt} %Z") + f" (UTC{offset[:3]}:{offset[3:]})"
