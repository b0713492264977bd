"""The worker as a child process of `ticketflow dev`.

In its own process the worker can be measured (RSS, CPU) and restarted
without the rest of the stack: `kill <pid>` (printed in the banner) and the
dev stack starts a fresh one a second later; its open tickets carry on from
their histories. It gets the dev stack's settings (sandbox URLs, the
embedded Postgres DSN, the dev server's address) as environment variables.

With a metrics address, `start()` returns once the worker listens there: a
port that is taken fails the start (the worker exits, saying so) instead of
leaving a worker restarted every second. Port 0 means any free port: the OS
picks it as the worker binds, `start()` reads it back, and a restarted
worker serves the same address.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import structlog
from pydantic import SecretStr

from infra import processes
from infra.settings import Settings

log = structlog.get_logger(__name__)


def _env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return json.dumps({str(k): _env_value(v) for k, v in value.items()})
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, frozenset):  # a comma-separated list (WORKER_DORMANT_PATCHES)
        return ",".join(sorted(value))
    return str(value)


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment variables that make `load_settings()` in a child equal `settings`."""
    env = dict(os.environ)
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            env.pop(name.upper(), None)
        else:
            env[name.upper()] = _env_value(value)
    return env


class WorkerProcess:
    """`ticketflow worker` kept running: restarted when it exits, until `stop()`."""

    def __init__(self, settings: Settings, restart_delay: float = 1.0) -> None:
        self.env = settings_env(settings)
        self.metrics_address = (
            settings.worker_metrics_address
        )  # port 0 until start() reads back the real one
        self.restart_delay = restart_delay
        self.proc: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._task: asyncio.Task | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def _spawn(self) -> asyncio.subprocess.Process:
        argv = [str(Path(sys.executable).parent / "ticketflow"), "worker"]
        self.proc = proc = await processes.spawn(*argv, env=self.env, inherit_output=True)
        log.info("worker process started", pid=proc.pid)
        return proc

    async def start(self) -> WorkerProcess:
        proc = await self._spawn()
        if self.metrics_address:
            host, _, port = self.metrics_address.rpartition(":")
            try:
                bound = await processes.wait_listening(proc, "worker", int(port))
            except BaseException:
                await processes.terminate(proc, "worker")
                raise
            self.metrics_address = self.env["WORKER_METRICS_ADDRESS"] = f"{host}:{bound}"
        self._task = asyncio.create_task(self._supervise())
        return self

    async def _supervise(self) -> None:
        while not self._stopping:
            proc = self.proc
            assert proc is not None  # start() spawned it before starting this task
            code = await proc.wait()
            if self._stopping:
                return
            log.warning("worker process exited; starting a new one", code=code, pid=proc.pid)
            await asyncio.sleep(self.restart_delay)
            if not self._stopping:
                await self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self.proc is not None:
            await processes.terminate(self.proc, "worker", timeout=30)
        if self._task is not None:
            await self._task
