"""Before an acknowledgment or response clock pages, ask Chatwoot whether
an agent already answered.

Chatwoot does not resend a webhook the bridge refused (503 while Temporal
was down) or that timed out, so a reply can happen without the ticket ever
hearing of it; paging for it would wake someone for a ticket a colleague
already answered. So when a clock that an agent's reply would stop is due,
and no reply is already waiting in the inbox, the ticket reads the
conversation's latest messages first (`chatwoot.check_reply`), bounded to
`CHECK_BOUND`: a reply found there is queued as the `agent_replied` it
should have been (at the instant it was sent, with the webhook's event id,
so a late webhook is not applied twice), and the deadline and the reply
then apply in the order they happened. If Chatwoot does not answer in time,
or this ticket's own Chatwoot calls are waiting in their lane behind one
that already took too long (Chatwoot is failing: `Lanes.failing`), the page
goes out without the check, and the page's details say so (`reply_check`),
as does the ticket's log. A lane whose first call is merely still out is
not failing: after an outage of Temporal's own, that call may only be
waiting on Temporal, and skipping the check would page for a lost reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.chatwoot import ChatwootActivities
    from engine.core import TicketEngine
    from models.actions import Action
    from models.chatwoot import ReplyCheckInput
    from models.signals import AgentReplied
    from workflows.actions import ACTIVITY_FAILED, failure_message

CHECK_BOUND = timedelta(seconds=2)  # a page is never later than this for the check
# The events an agent's reply raises: a clock they stop is one a lost reply would breach.
REPLY_EVENTS = frozenset({"acknowledged", "agent_replied", "agent_replied_substantive"})


def clocks_a_reply_would_stop(engine: TicketEngine, now: datetime) -> list[str]:
    """The running clocks due by `now` that an agent's reply would stop."""
    return [
        c.name
        for c in engine.state.clocks.values()
        if c.status == "running"
        and c.deadline <= now
        and REPLY_EVENTS & set(engine.policy.clocks[c.name].stops_on)
    ]


@dataclass(frozen=True)
class ReplyCheck:
    """What the check found: a reply the ticket never heard of, or why no
    check could be made (`unchecked`), for the pages it lets through."""

    reply: AgentReplied | None = None
    unchecked: str | None = None


async def check_reply(
    engine: TicketEngine, now: datetime, chatwoot_busy: bool, waiting: set[str]
) -> ReplyCheck:
    """The agent reply Chatwoot has that the ticket never heard of, if any
    (none asked for when the inbox already holds a reply: `waiting` names)."""
    due = clocks_a_reply_would_stop(engine, now)
    if not due or waiting & {"agent_replied", "acknowledged"}:
        return ReplyCheck()
    wid, t = engine.state.workflow_id, engine.state.ticket
    if chatwoot_busy:
        workflow.logger.warning(
            "paging without checking Chatwoot for a reply: its calls are failing",
            extra={"ticket": wid, "clocks": due},
        )
        return ReplyCheck(
            unchecked="not checked: this ticket's Chatwoot calls are failing, "
            "an agent may have answered"
        )
    since = engine.state.opened_at or min(engine.state.clocks[n].started_at for n in due)
    try:
        found = await workflow.execute_local_activity_method(
            ChatwootActivities.check_reply,
            ReplyCheckInput(
                account_id=t.account_id, conversation_id=t.conversation_id, since=since
            ),
            start_to_close_timeout=CHECK_BOUND,
            retry_policy=RetryPolicy(maximum_attempts=1),
            summary=f"Did an agent answer before {', '.join(due)} pages?"[:200],
        )
    except ACTIVITY_FAILED as err:
        workflow.logger.warning(
            "paging without checking Chatwoot for a reply: it did not answer",
            extra={"ticket": wid, "clocks": due, "error": failure_message(err)},
        )
        return ReplyCheck(
            unchecked=f"not checked: Chatwoot did not answer within "
            f"{CHECK_BOUND.total_seconds():g} s, an agent may have answered"
        )
    if found.message_id is None or found.at is None:
        return ReplyCheck()
    return ReplyCheck(
        reply=AgentReplied(
            by=found.by or "agent",
            substantive=True,
            event_id=f"message:{found.message_id}",
            occurred_at=found.at,
            source="system",
        )
    )


def with_check_noted(actions: list[Action], check: ReplyCheck) -> list[Action]:
    """The decision's pages, their details saying the reply check could not
    be made (the on-call person then looks at the conversation first)."""
    if check.unchecked is None:
        return actions
    return [
        a.model_copy(
            update={
                "params": {
                    **a.params,
                    "custom_details": {
                        **a.params.get("custom_details", {}),
                        "reply_check": check.unchecked,
                    },
                }
            }
        )
        if a.kind == "pagerduty.trigger"
        else a
        for a in actions
    ]
