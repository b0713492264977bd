"""Child processes that cannot outlive their parent.

Each child runs in its own session (so a terminal Ctrl-C reaches only the
parent, which then stops children in order) and gets PR_SET_PDEATHSIG on
Linux, so even a SIGKILLed parent leaves no orphan behind.

A child that takes a port number on its command line is given port 0 where
it accepts it (the OS picks a free port as the child binds it) and its
parent reads back the port it listens on (`wait_listening`): no port is
chosen free and bound later, so no other process can take it in between.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from pathlib import Path
from typing import IO

import structlog

log = structlog.get_logger(__name__)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def spawn(
    *argv: str,
    log_path: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    inherit_output: bool = False,
) -> asyncio.subprocess.Process:
    """`inherit_output`: the child writes to this process's stdout/stderr (else
    log_path or nowhere)."""
    # Opening the child's local log file for append reads nothing: not worth a thread.
    log_file = open(log_path, "ab") if log_path else None  # noqa: ASYNC230
    out: IO[bytes] | int | None = (
        log_file if log_file is not None else None if inherit_output else asyncio.subprocess.DEVNULL
    )
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    finally:
        if log_file is not None:
            log_file.close()


async def terminate(proc: asyncio.subprocess.Process, name: str, timeout: float = 10.0) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        log.warning("child did not stop in time, killing", child=name)
        proc.kill()
        await proc.wait()
    log.info("child stopped", child=name, code=proc.returncode)


def listening_ports(pid: int) -> set[int] | None:
    """The TCP ports process `pid` listens on (its sockets in LISTEN state,
    from /proc); None where there is no /proc to tell (not Linux)."""
    if not Path("/proc/self/net/tcp").exists():
        return None
    try:
        inodes = {
            link[8:-1]
            for fd in os.listdir(f"/proc/{pid}/fd")
            if (link := _readlink(f"/proc/{pid}/fd/{fd}")).startswith("socket:[")
        }
    except OSError:  # gone already
        return set()
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: TCP_LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


async def wait_listening(
    proc: asyncio.subprocess.Process, name: str, port: int = 0, timeout: float = 60.0
) -> int:
    """Wait until child `proc` listens on `port`, and return the port; with
    port 0 (the child was told 0 and the OS picked), the one port it listens
    on. RuntimeError if the child exits first (e.g. its port was taken) or
    takes longer than `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    wanted = f"port {port}" if port else "a port"
    while True:
        if proc.returncode is not None:
            raise RuntimeError(
                f"{name} exited with code {proc.returncode} before it listened on {wanted} "
                "(see its output)"
            )
        ports = listening_ports(proc.pid)
        if ports is None:  # cannot tell: trust a number, refuse to guess one
            if port:
                return port
            raise RuntimeError(
                f"{name}: reading back the port it chose needs /proc (Linux); give it a port"
            )
        if port in ports or (not port and len(ports) == 1):
            return port or ports.pop()
        if not port and len(ports) > 1:
            raise RuntimeError(
                f"{name} listens on {sorted(ports)}: cannot tell which port it was given"
            )
        if loop.time() > deadline:
            raise RuntimeError(f"{name} not listening on {wanted} after {timeout:.0f}s")
        await asyncio.sleep(0.05)
