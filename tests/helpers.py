"""Small test helpers."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")


async def eventually(fetch: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float = 20.0) -> T:
    """Poll `fetch` until `check` holds (for state a worker reaches
    asynchronously, e.g. after its first activity); not a clock for SLAs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await fetch()
        if check(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached in {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.05)
