"""Record the history of a ticket the bridge started for an old conversation,
for the replay test.

    .venv/bin/python -m tests.histories.record_adoption

A VIP conversation 40 minutes old, answered by an agent at +5 minutes, gets
its first ticket from a later event (`read_history`): the ticket reads the
history (`chatwoot.read_adoption`, `adopt-at-opening`), opens acknowledged,
and is resolved two hours later with nobody paged. Saved as
`adopted_bridge_start.json` unless it exists.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.worker import Worker

from activities.policy import policy_activities
from models.adoption import Adoption
from models.chatwoot import AdoptionInput
from models.signals import AgentReplied, CustomerReplied, Resolved
from models.ticket import Contact
from models.ticket_input import TicketInput
from sandbox.recording import Recorder, recording_activities
from tests.histories.record import recording_env, save
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

HERE = Path(__file__).parent
NAME = "adopted_bridge_start"
CREATED: list = []  # the conversation's creation, set once the server's clock is known


@activity.defn(name="chatwoot.read_adoption")
async def history(inp: AdoptionInput) -> Adoption:
    created = CREATED[0]
    return Adoption(
        at=created + timedelta(minutes=40),
        events=[
            CustomerReplied(event_id="message:1", occurred_at=created, source="system"),
            AgentReplied(event_id="message:2", by="alicia", substantive=True,
                         occurred_at=created + timedelta(minutes=5), source="system"),
            CustomerReplied(event_id="message:3", occurred_at=created + timedelta(minutes=38),
                            source="system"),
        ],
    )


async def main() -> None:
    if (HERE / f"{NAME}.json").exists():
        return
    async with recording_env() as (env, pool):
        acts = [a for a in recording_activities(Recorder(), pool)
                if a.__temporal_activity_definition.name != "chatwoot.read_adoption"]
        async with Worker(env.client, task_queue="record", workflows=[TicketWorkflow, HandoffWorkflow],
                          activities=[*policy_activities(HERE.parent.parent / "policies"), history, *acts]):
            CREATED.append((await env.get_current_time()) - timedelta(minutes=40))
            wid = f"ticket-1-{uuid.uuid4().int % 10**6}"
            handle = await env.client.start_workflow(
                TicketWorkflow.run,
                TicketInput(account_id=1, conversation_id=4712, policy="vip-concierge",
                            contact=Contact(name="Dana Whitfield", vip=True),
                            created_at=CREATED[0], read_history=True),
                id=wid, task_queue="record")
            await env.sleep(timedelta(hours=2))
            await handle.signal(TicketWorkflow.resolved, Resolved(by="alicia", resolution="done"))
            await handle.result()
            history_ = await handle.fetch_history()
        save(NAME, [(wid, history_)])

if __name__ == "__main__":
    asyncio.run(main())
