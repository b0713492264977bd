"""Run an ASGI app (bridge or a stand-in) inside the current event loop, on
a socket it holds from the start.

No port races: the listening socket is bound here (port 0: the OS picks a
free port, read back from the socket) before anyone is told the port, and
uvicorn serves that very socket. Choosing a "free" port, closing it and
letting uvicorn bind it later leaves a moment when another process can take
it (a CI run of the dev smoke test failed that way, uvicorn exiting with 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket

import uvicorn


class PortInUse(RuntimeError):
    """A port asked for by number is taken by another process."""


def listen(host: str, port: int = 0, what: str = "") -> socket.socket:
    """A listening TCP socket on host:port; port 0: any free port
    (`sock.getsockname()[1]` says which). `what` names the port in the
    PortInUse error (e.g. the command-line option that set it)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # as uvicorn: a port left in TIME_WAIT is free
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"{what + ': ' if what else ''}{host}:{port} is already in use"
            ) from None
        raise
    return sock


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the owning process decides
    when to stop (Ctrl-C in the dev stack must stop everything, in order)."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class InProcessServer:
    """Holds its port from construction (`port` 0: any free port; or an open
    socket from `listen()`); `await start()` returns once the server accepts
    connections; `await stop()` shuts it down and frees the port."""

    def __init__(
        self, app, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
    ) -> None:
        self.host = host
        self._sock = sock if sock is not None else listen(host, port)
        self.port = self._sock.getsockname()[1]
        self._server = _QuietServer(
            uvicorn.Config(
                app, host=host, port=self.port, log_config=None, access_log=False, lifespan="off"
            )
        )
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> InProcessServer:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the start-up error
                raise RuntimeError(f"server on {self.url} exited during start-up")
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            await self._task
            self._task = None
        self._sock.close()
