"""The whole ticketflow stack as separate processes the fault suite owns.

Temporal dev server (SQLite file), embedded Postgres, Chatwoot and PagerDuty
stand-ins, the worker and the bridge each run in a process of their own on
free ports, so a scenario can SIGKILL and restart any one of them and check
the invariants from outside: Temporal visibility, the stand-ins' recorded
calls (`/_sandbox/calls`, `/_sandbox/alerts`) and Postgres.

Free ports without a race: the stand-ins and the bridge are told port 0 and
the port each bound is read back (`infra.processes.wait_listening`); a
restart asks for that same port again (other processes are configured with
it), so only a port taken in the moment between a kill and its restart can
fail a restart, and it fails saying so.

The policy is the VIP pack with second-long clocks (first acknowledgment 4 s,
the second page 3 s later), so tickets are mid-ladder within seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from infra import db, processes
from infra.embedded_pg import EmbeddedPostgres
from tests import payloads
from tests.faults.servers import DevServer
from tests.helpers import signed

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "whsec-faults-0123456789"
CW_TOKEN = "cw-faults-token-0123456789"
PD_KEYS = {"lola": "L" * 32, "jonathan": "J" * 32, "alicia": "A" * 32}
POLICY = "vip-fast"
SECRETS = (SECRET, CW_TOKEN, *PD_KEYS.values())


def fast_pack(directory: Path) -> None:
    text = (ROOT / "policies" / "vip-concierge.yaml").read_text()
    text = text.replace("name: vip-concierge", f"name: {POLICY}", 1)
    text = text.replace("    duration: 30m\n", "    duration: 4s\n", 1)
    text = text.replace(
        "{do: page, target: backup2, after: 30m,", "{do: page, target: backup2, after: 3s,", 1
    )
    text = text.replace(
        "- {owner: alicia, when: {vip: true}, calendar: alicia_shift}",
        "- {owner: alicia, when: {vip: true}}",
    )
    (directory / f"{POLICY}.yaml").write_text(text)


@dataclass
class Child:
    """One process of the stack: start, SIGKILL, restart with the same argv.
    `port` (a server's): 0 until its first start, then the port it bound."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        argv = self.argv if self.port is None else [*self.argv, "--port", str(self.port)]
        self.proc = await processes.spawn(*argv, log_path=self.log_path, env=self.env)
        if self.port is not None:
            self.port = await processes.wait_listening(self.proc, self.name, self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def process(self) -> asyncio.subprocess.Process:
        """The running (or exited) process, once started."""
        if self.proc is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self.proc

    async def kill(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc:
            await processes.terminate(self.proc, self.name)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Stack:
    """The processes and the clients on them; `start()` sets the servers and
    clients (a `stop()` after a start that failed part-way stops what it got to)."""

    tmp: Path
    queue: str = field(default_factory=lambda: f"faults-{uuid.uuid4().hex[:6]}")
    dsn: str = ""
    children: dict[str, Child] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    temporal: DevServer = field(init=False)
    pg: EmbeddedPostgres = field(init=False)
    client: Client = field(init=False)
    http: httpx.AsyncClient = field(init=False)
    pool: asyncpg.Pool = field(init=False)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> Stack:
        fast_pack(self.tmp)
        self.temporal = DevServer(
            db_file=self.tmp / "temporal.db", log_path=self.tmp / "temporal.log"
        )
        self.client = await self.temporal.start()
        self.pg = EmbeddedPostgres(self.tmp / "pg", database="faults")
        self.dsn = await self.pg.start()
        await db.migrate(self.dsn)
        self.pool = await db.create_pool(self.dsn, max_size=4)
        # Idle connections are dropped after 1 s, well before uvicorn closes them (5 s):
        # reusing one the server is closing at that moment fails with "Server
        # disconnected without sending a response".
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=3.0), limits=httpx.Limits(keepalive_expiry=1.0)
        )
        for which in ("chatwoot", "pagerduty"):  # first: the others' settings name their URLs
            argv = [
                sys.executable,
                "-m",
                "tests.faults.serve",
                which,
                "--token",
                CW_TOKEN,
                "--keys",
                ",".join(PD_KEYS.values()),
            ]
            await self._start(which, argv, self._base_env(), listens=True)
        await self._start("worker", [str(BIN / "ticketflow"), "worker"], self.env())
        await self._start(
            "bridge",
            [str(BIN / "ticketflow"), "bridge", "--host", "127.0.0.1"],
            self.env(),
            listens=True,
        )
        for which in ("chatwoot", "pagerduty"):
            await self.wait_http(f"{self.urls[which]}/_sandbox/calls")
        await self.wait_http(f"{self.urls['bridge']}/healthz")
        return self

    def _base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(
                ("TEMPORAL_", "CHATWOOT_", "PAGERDUTY_", "WEBHOOK_", "DATABASE_URL")
            )
        }
        return env | dict(
            LOG_FORMAT="json", LOG_LEVEL="info", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1"
        )

    def env(self) -> dict[str, str]:
        return self._base_env() | dict(
            TEMPORAL_ADDRESS=self.temporal.address,
            TEMPORAL_TASK_QUEUE=self.queue,
            DATABASE_URL=self.dsn,
            CHATWOOT_BASE_URL=self.urls["chatwoot"],
            CHATWOOT_API_TOKEN=CW_TOKEN,
            CHATWOOT_ACCOUNT_ID="1",
            PAGERDUTY_EVENTS_URL=self.urls["pagerduty"],
            PAGERDUTY_ROUTING_KEY=PD_KEYS["alicia"],
            PAGERDUTY_ROUTING_KEYS=json.dumps(PD_KEYS),
            WEBHOOK_SECRET=SECRET,
            POLICIES_DIR=str(self.tmp),
            DEFAULT_POLICY=POLICY,
            BRIDGE_PORT="0",  # `ticketflow bridge --port 0` falls back to BRIDGE_PORT
        )

    async def _start(
        self, name: str, argv: list[str], env: dict[str, str], listens: bool = False
    ) -> None:
        child = Child(name, argv, env, self.tmp / f"{name}.log", port=0 if listens else None)
        await child.start()
        self.children[name] = child
        if listens:
            self.urls[name] = child.url

    async def restart(self, name: str) -> None:
        child = self.children[name]
        await child.kill()
        await child.start()

    async def wait_http(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if (await self.http.get(url, timeout=3)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not come up in {timeout}s")
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for child in reversed(list(self.children.values())):
            # stand-ins may hold slow answers open: no graceful drain needed for them
            await (child.kill() if child.name in ("chatwoot", "pagerduty") else child.stop())
        if hasattr(self, "http"):
            await self.http.aclose()
        if hasattr(self, "pool"):
            await self.pool.close()
        if hasattr(self, "temporal"):
            await self.temporal.stop()
        if hasattr(self, "pg"):
            await self.pg.stop()

    # -------------------------------------------------------------- inputs

    async def post(
        self,
        body: dict | bytes,
        *,
        headers: dict | None = None,
        sign: bool = True,
        content_type: str = "application/json",
    ) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {
            "content-type": content_type,
            **(signed(SECRET, raw) if sign else {}),
            **(headers or {}),
        }
        return await self.http.post(
            f"{self.urls['bridge']}/webhooks/chatwoot", content=raw, headers=h
        )

    async def open_tickets(
        self, conv_ids: list[int], concurrency: int = 16, created_at: int | None = None
    ) -> list[str]:
        """conversation_created for each id (a VIP, created at `created_at`, else
        now); the accepted workflow ids."""
        sem = asyncio.Semaphore(concurrency)
        now = created_at or int(time.time())

        async def one(cid: int) -> str | None:
            body = payloads.conversation(conv_id=cid, created_at=now, timestamp=now)
            async with sem:
                for attempt in range(
                    3
                ):  # a dropped connection is resent, as a sender would (signed anew)
                    try:
                        resp = await self.post(body)
                        break
                    except httpx.TransportError:
                        if attempt == 2:
                            raise
                        await asyncio.sleep(0.5)
                return resp.json().get("workflow_id") if resp.status_code == 202 else None

        return [w for w in await asyncio.gather(*(one(c) for c in conv_ids)) if w]

    async def set_faults(self, which: str, **cfg) -> None:
        resp = await self.http.post(f"{self.urls[which]}/_sandbox/faults", json=cfg)
        resp.raise_for_status()

    # ------------------------------------------------------ outside checks

    async def calls(self, which: str) -> list[dict]:
        return (await self.http.get(f"{self.urls[which]}/_sandbox/calls")).json()

    async def alerts(self) -> dict[str, dict]:
        return (await self.http.get(f"{self.urls['pagerduty']}/_sandbox/alerts")).json()

    async def statuses(self, wids: list[str]) -> dict[str, WorkflowExecutionStatus | None]:
        """Each ticket's status as Temporal has it (None: unknown to Temporal)."""
        out: dict[str, WorkflowExecutionStatus | None] = {}
        for wid in wids:
            try:
                out[wid] = (await self.client.get_workflow_handle(wid).describe()).status
            except Exception:
                out[wid] = None
        return out

    async def failed_workflows(self) -> int:
        query = (
            f"TaskQueue = '{self.queue}'"
            " AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed'"
        )
        return len([w async for w in self.client.list_workflows(query)])

    async def customer_messages(self, wids: list[str]) -> Counter:
        """(conversation, action key) -> successful posts; >1 is a duplicate message."""
        convs = {f"/conversations/{w.rsplit('-', 1)[1]}/messages" for w in wids}
        counts: Counter = Counter()
        for c in await self.calls("chatwoot"):
            if (
                c["method"] == "POST"
                and c["status"] == 200
                and any(c["path"].endswith(p) for p in convs)
            ):
                key = (
                    ((c["body"] or {}).get("content_attributes") or {})
                    .get("ticketflow", {})
                    .get("key")
                )
                counts[(c["path"], key)] += 1
        return counts

    async def repeated_pages(self, wids: list[str]) -> int:
        """Pages raised again after they were resolved (a second incident for one dedup key)."""
        state: dict[str, str | None] = {}
        repeats = 0
        for c in await self.calls("pagerduty"):
            if c["status"] != 202 or not isinstance(c["body"], dict):
                continue
            key, action = c["body"].get("dedup_key"), c["body"].get("event_action")
            if not key or not any(key.startswith(w + ":") for w in wids):
                continue
            if action == "trigger" and state.get(key) == "resolve":
                repeats += 1
            state[key] = action
        return repeats

    async def duplicate_audit_rows(self, wids: list[str]) -> int:
        """The same logical event recorded twice (different keys, same facts)."""
        rows = await self.pool.fetch(
            """SELECT count(*) - 1 AS extra FROM ticket_events WHERE workflow_id = ANY($1::text[])
               GROUP BY workflow_id, action, coalesce(target, ''), at_time, details::text
               HAVING count(*) > 1""",
            wids,
        )
        return sum(r["extra"] for r in rows)

    async def audit_count(self, wids: list[str], action: str) -> Counter:
        rows = await self.pool.fetch(
            "SELECT workflow_id FROM ticket_events WHERE workflow_id = ANY($1::text[]) "
            "AND action = $2",
            wids,
            action,
        )
        return Counter(r["workflow_id"] for r in rows)

    async def page_attempts(self, wids: list[str]) -> Counter:
        """Pages each ticket has tried to raise: distinct dedup keys of the
        triggers that reached PagerDuty, answered or failed."""
        keys: dict[str, set[str]] = {w: set() for w in wids}
        for c in await self.calls("pagerduty"):
            body = c["body"] if isinstance(c["body"], dict) else {}
            key = body.get("dedup_key") or ""
            if body.get("event_action") == "trigger":
                for w in wids:
                    if key.startswith(w + ":"):
                        keys[w].add(key)
        return Counter({w: len(k) for w, k in keys.items()})

    async def pages_by_ticket(self, wids: list[str]) -> Counter:
        alerts = await self.alerts()
        out: Counter = Counter()
        for key in alerts:
            for w in wids:
                if key.startswith(w + ":"):
                    out[w] += 1
        return out

    async def stuck_activities(self, wids: list[str], min_attempt: int = 5) -> int:
        n = 0
        for wid in wids:
            try:
                desc = await self.client.get_workflow_handle(wid).describe()
            except Exception:
                continue
            n += sum(1 for p in desc.raw_description.pending_activities if p.attempt >= min_attempt)
        return n

    def logs(self) -> str:
        return "\n".join(c.log() for c in self.children.values())


async def until(check, timeout: float, interval: float = 0.5):
    """Poll an async predicate until it holds or the timeout passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)
