"""`ticketflow simulate`: dry-run an SOP before it goes live.

Runs the real TicketWorkflow / HandoffWorkflow and the real policy on the
time-skipping test server, with recording stand-ins for Chatwoot and
PagerDuty and a real Postgres for the audit tables, and returns the
timeline of everything the system did.

The test server's clock starts at the real current time and only moves
forward, so the ticket runs with `clock_offset_seconds` = scenario start -
server time: the same mechanism production uses with an offset of zero.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.policy import policy_activities
from client.gateway import for_web_ui
from dryrun.scenario import Scenario, ScenarioEvent, load_scenario
from engine.policy_loader import load_policy
from models.handoff import HandoffResponse
from models.signals import (
    Acknowledged,
    AgentReplied,
    Classify,
    CustomerReplied,
    Escalate,
    Reassign,
    Reopened,
    Resolved,
    StatusChanged,
    VipFlagChanged,
)
from models.status import TicketStatus
from models.ticket_input import TicketInput
from models.timezones import zone
from sandbox.recording import Recorder, TimelineEntry, recording_activities
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

EVENT_DELAY_SECONDS = 0.05

# signal name -> (its input model, the signal, the update that takes it, if any)
_ARGS: dict[str, tuple[type[BaseModel], Callable[..., Any], Callable[..., Any] | None]] = {
    "acknowledged": (Acknowledged, TicketWorkflow.acknowledged, TicketWorkflow.acknowledge),
    "agent_replied": (AgentReplied, TicketWorkflow.agent_replied, None),
    "customer_replied": (CustomerReplied, TicketWorkflow.customer_replied, None),
    "resolved": (Resolved, TicketWorkflow.resolved, TicketWorkflow.resolve),
    "reopened": (Reopened, TicketWorkflow.reopened, TicketWorkflow.reopen),
    "escalate": (Escalate, TicketWorkflow.escalate, TicketWorkflow.request_escalation),
    "reassign": (Reassign, TicketWorkflow.reassign, TicketWorkflow.reassign_to),
    "classify": (Classify, TicketWorkflow.classify, None),
    "vip_flag_changed": (VipFlagChanged, TicketWorkflow.vip_flag_changed, None),
    "status_changed": (StatusChanged, TicketWorkflow.status_changed, None),
    "handoff_acknowledged": (HandoffResponse, TicketWorkflow.handoff_acknowledged, None),
    "handoff_decision": (HandoffResponse, TicketWorkflow.handoff_decision, TicketWorkflow.decide),
    "handoff_failed": (HandoffResponse, TicketWorkflow.handoff_failed, None),
}


@dataclass
class SimulationResult:
    scenario: Scenario
    workflow_id: str
    timeline: list[TimelineEntry]
    status: TicketStatus | None
    tz: Any

    def lines(self) -> list[dict[str, Any]]:
        return [e.as_dict(self.tz) for e in self.timeline]

    def actions(self, name: str) -> list[dict[str, Any]]:
        return [d for d in self.lines() if d["action"] == name]


async def run_scenario(
    scenario: Scenario,
    env: WorkflowEnvironment,
    pool,
    policies_dir: Path,
    task_queue: str | None = None,
) -> SimulationResult:
    """Run one scenario on an existing time-skipping environment."""
    policy = load_policy(scenario.policy, policies_dir)
    rec = Recorder()
    task_queue = task_queue or f"simulate-{uuid.uuid4().hex[:8]}"
    t = scenario.ticket
    wid = f"sim-{uuid.uuid4().hex[:6]}-ticket-{t.account_id}-{t.conversation_id}"
    client: Client = env.client
    offset = (scenario.start - await env.get_current_time()).total_seconds()
    ticket = TicketInput(
        account_id=t.account_id,
        conversation_id=t.conversation_id,
        policy=scenario.policy,
        contact=t.contact,
        labels=t.labels,
        custom_attributes=t.custom_attributes,
        ask_type=t.ask_type,
        inbox_id=t.inbox_id,
        created_at=scenario.created_at or scenario.start,
        clock_offset_seconds=offset,
    )
    activities = [*policy_activities(policies_dir), *recording_activities(rec, pool)]
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=activities,
    ):
        handle = await client.start_workflow(
            TicketWorkflow.run, ticket, id=wid, task_queue=task_queue, **for_web_ui(ticket, None)[1]
        )
        for ev in scenario.events:
            # Just after the event's instant: a deadline due at that same instant fires
            # first (as the engine orders them), and the signal never races the timer's
            # firing (a cancel racing a fire can leave the test server's clock locked).
            await _sleep_until(env, ev.at.timestamp() - offset + EVENT_DELAY_SECONDS)
            await _deliver(handle, ev, rec)
        await _sleep_until(env, scenario.until.timestamp() - offset)
        status = None
        try:
            status = await handle.query(TicketWorkflow.status)
        except (RPCError, WorkflowFailureError):
            pass
        await terminate_ticket_tree(client, wid, "simulation horizon reached")
    return SimulationResult(scenario, wid, rec.timeline(), status, zone(policy.timezone))


async def terminate_ticket_tree(
    client: Client, workflow_id: str, reason: str, settle_seconds: float = 30.0
) -> None:
    """Terminate a ticket and any handoff it started that still runs. Uses
    history, not a query, so it works with no worker polling.

    It first waits (up to `settle_seconds`; it returns as soon as the ticket
    is quiet, so the bound only matters on a machine so busy that a task
    takes seconds) for the in-flight workflow task and activities to finish:
    the time-skipping server keeps time locked for a task whose workflow was
    terminated under it, which would freeze every later test."""
    import asyncio

    from temporalio.client import WorkflowExecutionStatus

    handle = client.get_workflow_handle(workflow_id)
    try:
        history = await handle.fetch_history()
    except RPCError:
        return
    children = [
        e.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for e in history.events
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
    ]
    loop = asyncio.get_running_loop()
    for wid in [*children, workflow_id]:
        h = client.get_workflow_handle(wid)
        deadline = loop.time() + settle_seconds
        quiet, last_length = 0, -1
        try:
            while True:
                desc = await h.describe()
                if desc.status != WorkflowExecutionStatus.RUNNING:
                    break
                raw = desc.raw_description
                length = raw.workflow_execution_info.history_length
                busy = raw.pending_activities or raw.HasField("pending_workflow_task")
                quiet = quiet + 1 if (length == last_length and not busy) else 0
                last_length = length
                if quiet >= 3 or loop.time() > deadline:
                    await h.terminate(reason)
                    break
                await asyncio.sleep(0.1)
        except RPCError:
            pass


async def _sleep_until(env: WorkflowEnvironment, server_ts: float) -> None:
    now = (await env.get_current_time()).timestamp()
    if server_ts > now:
        await env.sleep(timedelta(seconds=server_ts - now))


async def _deliver(handle, ev: ScenarioEvent, rec: Recorder) -> None:
    model, signal, update = _ARGS[ev.signal]
    fields = dict(ev.fields)
    if ev.signal in ("handoff_acknowledged", "handoff_decision"):
        fields["ok"] = True
    if ev.signal == "handoff_failed":
        fields["ok"] = False
    arg = (
        model(**fields, event_id=f"scenario:{ev.line}")
        if "event_id" in model.model_fields
        else model(**fields)
    )
    try:
        if ev.via == "update":
            await handle.execute_update(update, arg)
        else:
            await handle.signal(signal, arg)
    except WorkflowUpdateFailedError as err:
        rec.add(
            ev.at,
            "update.rejected",
            fields.get("by"),
            None,
            signal=ev.signal,
            error=str(getattr(err.cause, "message", err.cause)),
        )
    except RPCError as err:
        rec.add(
            ev.at, "event.undelivered", fields.get("by"), None, signal=ev.signal, error=err.message
        )


def format_json(result: SimulationResult) -> str:
    return "\n".join(json.dumps(line, default=str, ensure_ascii=False) for line in result.lines())


def format_table(result: SimulationResult) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{result.scenario.name} — policy {result.scenario.policy}", show_lines=False
    )
    for col in ("at", "action", "target", "details"):
        table.add_column(col, overflow="fold")
    for line in result.lines():
        details = {
            k: v
            for k, v in line.items()
            if k not in ("at", "action", "target") and v not in (None, [], {})
        }
        text = details.pop("content", None) or details.pop("summary", None) or ""
        rest = ", ".join(
            f"{k}={v}" for k, v in details.items() if k not in ("dedup_key", "inserted")
        )
        table.add_row(
            line["at"][:16].replace("T", " "),
            line["action"],
            line["target"] or "",
            (str(text).replace("\n", " ")[:90] + (f" ({rest[:80]})" if rest else "")).strip(),
        )
    out = StringIO()
    Console(file=out, width=160).print(table)
    if result.status is not None:
        s = result.status
        out.write(f"final: stage={s.stage} owner={s.owner} sla={s.sla_state} level={s.level}\n")
    out.write(sent_line(result) + "\n")
    return out.getvalue()


def sent_line(result: SimulationResult) -> str:
    """How many of each notification the scenario sent, side by side."""
    n = {k: len(result.actions(k)) for k in SENT}
    return "sent: " + ", ".join(f"{label} {n[k]}" for k, label in SENT.items())


# What reaches people, as `simulate` and `whatif` count it.
SENT = {
    "pagerduty.trigger": "pages",
    "chatwoot.note": "notes",
    "chatwoot.message": "customer messages",
    "slack.post": "Slack posts",
    "slack.update": "Slack updates",
    "email.send": "e-mails",
}


async def simulate_file(
    path: Path, policies_dir: Path, database_url: str | None
) -> SimulationResult:
    """The CLI's path: its own time-skipping server and Postgres."""
    import shutil
    import tempfile

    from infra import db
    from infra.embedded_pg import EmbeddedPostgres
    from infra.environments import time_skipping_environment
    from infra.temporal import register_search_attributes

    scenario = load_scenario(path, lambda name: load_policy(name, policies_dir))
    embedded, scratch = None, None
    if database_url is None:
        scratch = Path(tempfile.mkdtemp(prefix="ticketflow-sim-"))
        embedded = EmbeddedPostgres(scratch / "pg", database="simulate")
    try:
        if embedded:
            database_url = await embedded.start()
        assert database_url is not None  # given, or the embedded server's
        await db.migrate(database_url)
        pool = await db.create_pool(database_url, max_size=4)
        try:
            env = await time_skipping_environment()
            async with env:
                await register_search_attributes(env.client, "default")
                return await run_scenario(scenario, env, pool, policies_dir)
        finally:
            await pool.close()
    finally:
        if embedded:
            await embedded.stop()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)  # a throwaway data folder (~47 MB) per run
