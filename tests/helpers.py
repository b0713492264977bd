"""Small test helpers."""

from __future__ import annotations

import ast
import asyncio
import gc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from temporalio.service import RPCError, RPCStatusCode

T = TypeVar("T")
_RETRYABLE = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED, RPCStatusCode.UNAVAILABLE)


async def eventually(
    fetch: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float = 60.0
) -> T:
    """Poll `fetch` until `check` holds (for state a worker reaches
    asynchronously, e.g. after its first activity); not a clock for SLAs.

    A query that times out (the worker is busy on a loaded machine, or the
    ticket is between runs of a continue-as-new) is asked again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    value: T | None = None
    while True:
        try:
            value = await fetch()
            if check(value):
                return value
        except RPCError as err:
            if err.status not in _RETRYABLE or loop.time() > deadline:
                raise
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached in {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.05)


_used: dict[bytes, set[int]] = {}


def signed(secret: str, raw: bytes) -> dict[str, str]:
    """Chatwoot signature headers for a delivery of `raw`, each call a new
    delivery: the bridge refuses the same signed delivery twice, as a
    replay, so a resend of the same body gets a timestamp (and so a
    signature) no earlier call for that body used, the newest free second."""
    import hashlib
    import time

    from starter.signatures import sign_chatwoot

    used = _used.setdefault(hashlib.sha256(raw).digest(), set())
    ts = int(time.time())
    while ts in used:
        ts -= 1
    used.add(ts)
    return sign_chatwoot(secret, raw, timestamp=ts)


def parse_source(path: Path) -> ast.Module:
    """`ast.parse` a project file with the garbage collector held off.

    Earlier tests leave workflow futures behind; when the collector
    finalises one mid-parse its `__del__` logs, and CPython 3.11's AST
    builder then fails with "AST constructor recursion depth mismatch".
    Collecting first and pausing the collector keeps the parse alone."""
    gc.collect()
    gc.disable()
    try:
        return ast.parse(path.read_text(), str(path))
    finally:
        gc.enable()
