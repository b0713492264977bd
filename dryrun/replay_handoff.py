"""A handoff's life without Temporal: `HandoffEngine` driven the way
`HandoffWorkflow.run` drives it (workflows/handoff.py), one turn of its loop
at a time, with its actions collected instead of executed.

A turn at `now`: the responses and page updates that arrived, in order;
then the timeout if the handoff is still open at its deadline, or else the
on-failure ladder's due steps and any progress to report. What the workflow
would record for the turn (`respond`, `page_update`, `timeout`, `advance`)
is noted too, so a replay of recorded inputs can check it took the same
turns as the live handoff.
"""

from __future__ import annotations

from datetime import datetime

from engine.core import Rejected
from engine.handoff import HandoffEngine
from models.actions import Action
from models.handoff import HandoffInput, HandoffResponse, HandoffResult
from models.signals import PageUpdate


class HandoffSim:
    def __init__(self, inp: HandoffInput, opened_at: datetime) -> None:
        self.inp = inp
        self.opened_at = opened_at
        self.engine = HandoffEngine(inp)
        self.actions: list[Action] = []
        self.results: list[tuple[datetime, HandoffResult]] = []  # (when reported, what)
        self.noted: list[tuple[str, datetime, str | None]] = [("open", opened_at, None)]

    @property
    def id(self) -> str:
        return self.inp.handoff_id

    @property
    def finished(self) -> bool:
        return self.engine.finished

    def wake(self) -> datetime | None:
        return None if self.finished else self.engine.next_wakeup()

    def turn(self, now: datetime, items: list[HandoffResponse | PageUpdate]) -> list[Action]:
        """One turn of the workflow's loop; the actions it decided."""
        e, before = self.engine, len(self.actions)
        for item in items:
            kind = "page_update" if isinstance(item, PageUpdate) else "respond"
            try:
                actions, result = e.receive(item, now)
            except Rejected as exc:
                self.noted.append((kind, now, str(exc)))
                continue
            self.noted.append((kind, now, None))
            self._took(actions, result, now)
        if e.status == "open" and now >= self.inp.deadline:
            self.noted.append(("timeout", now, None))
            self._took(*e.timeout(now), now)
        elif e.status != "open":
            due = e.next_wakeup()
            if due is not None and due <= now:
                self.noted.append(("advance", now, None))
            self.actions += e.advance(now)
            self._took([], e.progress(), now)
        return self.actions[before:]

    def fail(self, at: datetime, kind: str, target: str | None, why: str) -> None:
        """An action that failed after its retries (as `HandoffWorkflow._action_failed`)."""
        self.engine.steps.record_failure(at, f"handoff:{self.inp.name}", kind, target, why)

    def _took(self, actions: list[Action], result: HandoffResult | None, now: datetime) -> None:
        self.actions += actions
        if result is not None:
            self.results.append((now, result.model_copy(update={"source": "handoff"})))


def handoff_input(params: dict, policy, ticket, clock_offset_seconds: float = 0.0) -> HandoffInput:
    """The child's input, built from a `handoff.start` action as the ticket builds it
    (workflows/ticket_actions.py `_start_handoff`)."""
    return HandoffInput(
        handoff_id=params["handoff_id"],
        ticket_workflow_id=ticket.workflow_id,
        name=params["name"],
        target=params["target"],
        reason=params.get("reason"),
        payload=params.get("payload", {}),
        by=params["by"],
        owner=params.get("owner"),
        started_at=datetime.fromisoformat(params["started_at"]),
        deadline=datetime.fromisoformat(params["deadline"]),
        policy=policy,
        ticket=ticket.ticket,
        facts=params.get("facts", {}),
        context=params.get("context", {}),
        clock_offset_seconds=clock_offset_seconds,
        shadow=params.get("shadow"),
    )
