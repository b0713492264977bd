"""Turn the decision core's actions into activity calls.

Shared by TicketWorkflow and HandoffWorkflow. Each call carries the action's
human summary (what the Temporal Web UI shows) and its idempotency key. A
call that still fails after its retries is reported back, never raised: a
Chatwoot outage must not crash a ticket or stop its ladder.

Local lanes (behind the `local-lanes` patch): a PagerDuty event, an audit
write or the recent-level query first runs as a *local* activity, in the
worker, inside the workflow task that decided it. A breach's page
then leaves the moment its decision runs, instead of after a round trip
through the server's activity queue, and a decision costs fewer workflow
tasks. That first attempt gets `LOCAL_ATTEMPT` and no retry: a local
activity keeps its workflow-task slot while it runs, so a PagerDuty or
Postgres that hangs must not hold the worker's slots (every ticket would
wait). If it fails or times out, the call goes on as a regular activity with
the usual retries. Running a call twice is safe (a worker dying before its
task completes also re-runs a local activity, as attempt 1): PagerDuty
deduplicates by `dedup_key` and every audit row has a unique key. Chatwoot
calls stay regular activities: a message retry needs its attempt number and
heartbeat to find an earlier copy (see activities/chatwoot.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from models.actions import MARKERS, Action
    from models.audit import AuditRowInput, CountRecentLevelInput, TicketEventRow
    from models.batch import AuditBatchItem, ChatwootOp
    from models.channels import ChannelMessage, EmailInput, SlackPostInput, SlackUpdateInput
    from models.chatwoot import (
        AssignInput,
        MergeAttributesInput,
        PostMessageInput,
        SetStatusInput,
        UpdateLabelsInput,
    )
    from models.pagerduty import PagerDutyEventInput
    from models.ticket import Ticket
    from workflows.held_task import LocalCalls, counted
    from workflows.routes import AUDIT_ROWS, route

# Retries back off 1s, 2s, 4s ... 30s; 429s follow the API's Retry-After instead.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
_OPTS: dict[str, Any] = dict(
    start_to_close_timeout=timedelta(seconds=30),
    schedule_to_close_timeout=timedelta(minutes=15),
    retry_policy=RETRY,
)


@dataclass
class ActionContext:
    workflow_id: str  # the ticket's workflow id (audit rows group by it)
    ticket: Ticket
    policy: str
    facts: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    level: int = 0
    stage: str | None = None
    # PagerDuty, audit and query calls as local activities (`local-lanes` patch).
    local: bool = False
    local_attempt: timedelta | None = None  # the local attempt's bound; LOCAL_ATTEMPT if None
    calls: LocalCalls | None = None  # local activities in flight, counted (`held-timers`)


class ActionFailed(Exception):
    pass


# What a failed activity raises in the workflow. A regular one raises
# ActivityError (the cause inside); a local one that fails for good can raise
# its ApplicationError, or a TimeoutError, unwrapped.
ACTIVITY_FAILED = (ActivityError, ApplicationError, TimeoutError)


def _cause(err: Exception) -> BaseException | None:
    return err.cause if isinstance(err, ActivityError) else err


def failure_message(err: Exception) -> str:
    """The activity's own message, without the wrapper's."""
    cause = _cause(err)
    return str(getattr(cause, "message", None) or cause or err)


# A local first attempt's whole budget (PagerDuty answers in well under 1 s).
LOCAL_ATTEMPT = timedelta(seconds=3)
# Beside the loop (`background-lanes`) a local attempt holds the ticket's
# workflow task, so no signal or update is taken while it runs: half a second
# at most (an audit insert or a page takes milliseconds when its system answers).
LOCAL_ATTEMPT_BESIDE_LOOP = timedelta(seconds=0.5)


def _final(err: Exception) -> bool:
    """A failure no retry can change (bad input, a data error)."""
    cause = _cause(err)
    return isinstance(cause, ApplicationError) and cause.non_retryable


async def run_activity(
    fn,
    arg,
    summary: str,
    local: bool = False,
    local_attempt: timedelta | None = None,
    calls: LocalCalls | None = None,
):
    """Run `fn` as a regular activity, or (`local`) first as one local
    attempt (bounded to `local_attempt`, else LOCAL_ATTEMPT; counted in
    `calls` while it runs) and, when that does not succeed, as a regular
    activity."""
    if local:
        try:
            with counted(calls):
                return await workflow.execute_local_activity_method(
                    fn,
                    arg,
                    summary=summary[:200],
                    start_to_close_timeout=local_attempt or LOCAL_ATTEMPT,
                    retry_policy=RetryPolicy(maximum_attempts=1),
                )
        except ACTIVITY_FAILED as err:
            if _final(err):
                raise
    return await workflow.execute_activity_method(fn, arg, summary=summary[:200], **_OPTS)


def local_options(
    ctx: ActionContext | None,
) -> tuple[bool, timedelta | None, LocalCalls | None]:
    """`run_activity`'s local, local_attempt and calls for `ctx` (None: a regular activity)."""
    return (ctx.local, ctx.local_attempt, ctx.calls) if ctx is not None else (False, None, None)


async def _call(fn, arg, summary: str, ctx: ActionContext | None = None):
    """Run the action's activity (locally first when `ctx.local`)."""
    try:
        return await run_activity(fn, arg, summary, *local_options(ctx))
    except ACTIVITY_FAILED as err:
        raise ActionFailed(f"{summary}: {failure_message(err)}") from None


def _conv(a: Action, ctx: ActionContext) -> dict[str, Any]:
    t = ctx.ticket
    return dict(
        account_id=t.account_id,
        conversation_id=t.conversation_id,
        idempotency_key=a.key,
        at=a.at,
        target=a.target,
    )


def chatwoot_op(a: Action, ctx: ActionContext) -> ChatwootOp:
    """The Chatwoot call of a `chatwoot.*` action (what its activity gets)."""
    conv, p = _conv(a, ctx), a.params
    if a.kind in ("chatwoot.message", "chatwoot.note"):
        return ChatwootOp(
            kind="message",
            message=PostMessageInput(
                **conv, content=p["content"], private=a.kind == "chatwoot.note"
            ),
        )
    if a.kind == "chatwoot.labels":
        return ChatwootOp(
            kind="labels",
            labels=UpdateLabelsInput(**conv, add=p.get("add", []), remove=p.get("remove", [])),
        )
    if a.kind == "chatwoot.assign":
        return ChatwootOp(
            kind="assign",
            assign=AssignInput(**conv, agent_id=p.get("agent_id"), team_id=p.get("team_id")),
        )
    if a.kind == "chatwoot.status":
        return ChatwootOp(kind="status", status=SetStatusInput(**conv, status=p["status"]))
    if a.kind == "chatwoot.attributes":
        return ChatwootOp(kind="attributes", attributes=MergeAttributesInput(**conv, set=p["set"]))
    raise ActionFailed(f"no executor for action {a.kind}")


def audit_item(a: Action, ctx: ActionContext) -> AuditBatchItem:
    """The audit row of a marker or `audit.*` action (what its activity gets)."""
    t, p = ctx.ticket, a.params
    if a.kind in MARKERS:
        return AuditBatchItem(
            event=TicketEventRow(
                idempotency_key=a.key,
                workflow_id=ctx.workflow_id,
                account_id=t.account_id,
                conversation_id=t.conversation_id,
                policy=ctx.policy,
                action=a.kind,
                target=a.target,
                details={"summary": a.summary, **p},
                at=a.at,
            )
        )
    if a.kind in AUDIT_ROWS:
        return AuditBatchItem(
            row=AuditRowInput(
                table=a.kind.split(".", 1)[1],
                idempotency_key=a.key,
                workflow_id=ctx.workflow_id,
                account_id=t.account_id,
                conversation_id=t.conversation_id,
                policy=ctx.policy,
                customer_id=ctx.facts.get("customer_id"),
                vip=bool(ctx.facts.get("vip")),
                owner=ctx.owner,
                severity=ctx.facts.get("severity"),
                level=ctx.level,
                stage=ctx.stage,
                row=p.get("row", {}),
                context=p.get("context", {}),
                at=a.at,
            )
        )
    raise ActionFailed(f"no executor for action {a.kind}")


def channel_input(a: Action) -> SlackPostInput | SlackUpdateInput | EmailInput:
    """The activity input of a Slack post or update, or an e-mail (engine/channels.py)."""
    p = a.params
    message = ChannelMessage.model_validate(p["message"])
    if a.kind == "slack.post":
        return SlackPostInput(message=message, to=p["to"], target=a.target, at=a.at)
    if a.kind == "slack.update":
        return SlackUpdateInput(
            message=message,
            to=p["to"],
            posted_at=datetime.fromisoformat(p["posted_at"]),
            update_key=a.key,
            at=a.at,
        )
    return EmailInput(message=message, to=p["to"], subject=p["subject"], target=a.target, at=a.at)


async def execute(a: Action, ctx: ActionContext) -> Any:
    """Run one action's activity (workflows/routes.py); return its result (or
    None). ActionFailed when it could not be done."""
    t = ctx.ticket
    p = a.params
    fn = route(a.kind).activity
    if fn is None:
        raise ActionFailed(f"no activity for action {a.kind}: the workflow carries it out")
    if a.kind in MARKERS:
        return await _call(fn, audit_item(a, ctx).event, a.summary, ctx)
    if a.kind.startswith("chatwoot."):
        op = chatwoot_op(a, ctx)
        return await _call(fn, getattr(op, op.kind), a.summary)
    if a.kind.startswith("pagerduty."):
        event = PagerDutyEventInput(
            event_action=a.kind.split(".", 1)[1],
            dedup_key=p["dedup_key"],
            routing_key_name=p.get("routing_key_name"),
            summary=p.get("summary", ""),
            severity=p.get("severity", "critical"),
            custom_details=p.get("custom_details", {}),
            workflow_id=ctx.workflow_id,
            account_id=t.account_id,
            conversation_id=t.conversation_id,
            at=a.at,
            target=a.target,
        )
        return await _call(fn, event, a.summary, ctx)
    if a.kind in AUDIT_ROWS:
        return await _call(fn, audit_item(a, ctx).row, a.summary, ctx)
    if a.kind in ("slack.post", "slack.update", "email.send"):
        return await _call(fn, channel_input(a), a.summary)
    if a.kind == "query.recent_level":
        return await _call(
            fn,
            CountRecentLevelInput(
                policy=p["policy"],
                level=p["level"],
                window_seconds=p["window_seconds"],
                at=a.at,
                exclude_workflow_id=ctx.workflow_id,
            ),
            a.summary,
            ctx,
        )
    raise ActionFailed(f"no executor for action {a.kind}")
