"""Record the history of a ticket whose actions fail, for the replay test.

    .venv/bin/python -m tests.histories.record_failures

A VIP ticket opens and resolves while Chatwoot refuses every message (a
non-retryable 401): the failure path with the `audit-failed-actions` patch,
each failed message recorded in the ladder and as an `action.failed` row. Saved as
`failed_actions_audited.json` unless it exists.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.policy import policy_activities
from models.chatwoot import PostMessageInput, PostMessageResult
from models.signals import Resolved
from models.ticket import Contact
from models.ticket_input import TicketInput
from sandbox.recording import Recorder, recording_activities
from tests.histories.record import recording_env, save
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

HERE = Path(__file__).parent
NAME = "failed_actions_audited"


@activity.defn(name="chatwoot.send_message")
async def refuse(inp: PostMessageInput) -> PostMessageResult:
    raise ApplicationError("Chatwoot answered 401", type="ChatwootUnauthorized", non_retryable=True)


async def main() -> None:
    if (HERE / f"{NAME}.json").exists():
        return
    async with recording_env() as (env, pool):
        acts = [a for a in recording_activities(Recorder(), pool)
                if a.__temporal_activity_definition.name != "chatwoot.send_message"]
        async with Worker(env.client, task_queue="record", workflows=[TicketWorkflow, HandoffWorkflow],
                          activities=[*policy_activities(HERE.parent.parent / "policies"), refuse, *acts]):
            wid = f"ticket-1-{uuid.uuid4().int % 10**6}"
            handle = await env.client.start_workflow(
                TicketWorkflow.run, TicketInput(account_id=1, conversation_id=4711, policy="vip-concierge",
                                                contact=Contact(name="Dana Whitfield", vip=True)),
                id=wid, task_queue="record")
            await env.sleep(timedelta(minutes=5))
            await handle.signal(TicketWorkflow.resolved, Resolved(by="alicia", resolution="done"))
            await handle.result()
            history = await handle.fetch_history()
        save(NAME, [(wid, history)])

if __name__ == "__main__":
    asyncio.run(main())
