"""Child processes that cannot outlive their parent.

Each child runs in its own session (so a terminal Ctrl-C reaches only the
parent, which then stops children in order) and gets PR_SET_PDEATHSIG on
Linux, so even a SIGKILLed parent leaves no orphan behind.
"""

from __future__ import annotations

import asyncio
import ctypes
import signal
import sys

import structlog

log = structlog.get_logger(__name__)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def spawn(*argv: str, log_path=None, env: dict[str, str] | None = None,
                inherit_output: bool = False) -> asyncio.subprocess.Process:
    """`inherit_output`: the child writes to this process's stdout/stderr (else log_path or nowhere)."""
    out = open(log_path, "ab") if log_path else None if inherit_output else asyncio.subprocess.DEVNULL
    try:
        return await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, env=env,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
    finally:
        if log_path:
            out.close()


async def terminate(proc: asyncio.subprocess.Process, name: str, timeout: float = 10.0) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except asyncio.TimeoutError:
        log.warning("child did not stop in time, killing", child=name)
        proc.kill()
        await proc.wait()
    log.info("child stopped", child=name, code=proc.returncode)
