"""Run an ASGI app (bridge or a stand-in) inside the current event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import uvicorn


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the owning process decides
    when to stop (Ctrl-C in the dev stack must stop everything, in order)."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class InProcessServer:
    """`await start()` returns once the server accepts connections;
    `await stop()` shuts it down."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server = _QuietServer(
            uvicorn.Config(app, host=host, port=self.port, log_config=None, access_log=False,
                           lifespan="off")
        )
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> "InProcessServer":
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the start-up error (e.g. port in use)
                raise RuntimeError(f"server on {self.url} exited during start-up")
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            await self._task
            self._task = None
