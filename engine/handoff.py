"""The handoff decision core: wait for the success response until the
deadline; on timeout or an explicit failure walk the on-failure steps (page
the target, the secondary after a further delay, hand the ticket back to a
fallback owner); a late acknowledgement stops what is left and resolves the
pages this handoff raised. Pure: `HandoffWorkflow` drives it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.core import Rejected, TicketEngine
from models.actions import Action
from models.handoff import HandoffInput, HandoffResponse, HandoffResult
from models.signals import PageUpdate, PageUpdateStatus
from models.state import TicketState


class HandoffEngine:
    def __init__(self, inp: HandoffInput) -> None:
        self.inp = inp
        self.spec = inp.policy.handoffs[inp.name]
        state = TicketState(
            ticket=inp.ticket,
            workflow_id=inp.handoff_id,
            owner=inp.owner,
            facts=dict(inp.facts),
            stage="escalated",
            shadow=inp.shadow,
        )
        self.steps = TicketEngine(inp.policy, state, reactive=False)
        # A handoff's own ladder runs without the `sop-event-orders` rules:
        # every step runs when it falls due, however late (no `max_catch_up`).
        self.steps.sop_orders = False
        # Its templates and pages name the ticket, not the handoff's own id; its
        # pages are about the deadline the handoff was given.
        self.steps.ctx.ticket_id = inp.ticket_workflow_id
        self.steps.ctx.answer_due = (f"Handoff: {self.spec.title}", inp.deadline)
        self.status = "open"
        self.by: str | None = None
        self.decision: str | None = None
        self.founder_action: str | None = None
        self._reported = 0  # ladder entries already reported to the ticket

    @property
    def context(self) -> dict[str, Any]:
        spec = self.spec
        return {
            **self.inp.context,
            "handoff": self.inp.name,
            "target": self.inp.target,
            "secondary": spec.secondary,
            "reason": self.inp.reason,
        }

    def next_wakeup(self) -> datetime | None:
        if self.status == "open":
            return self.inp.deadline
        return self.steps.next_wakeup()

    @property
    def finished(self) -> bool:
        return self.status != "open" and not self.steps.state.pending

    def receive(
        self, item: HandoffResponse | PageUpdate, now: datetime
    ) -> tuple[list[Action], HandoffResult | None]:
        """One item of the workflow's inbox, a response or a page update (raises Rejected)."""
        if isinstance(item, PageUpdate):
            return self.page_update(item.dedup_key, item.status, now)
        return self.respond(item, now)

    def respond(
        self, r: HandoffResponse, now: datetime
    ) -> tuple[list[Action], HandoffResult | None]:
        if self.status in ("acknowledged", "decided"):
            return [], None  # already answered: idempotent
        if not r.ok:
            if self.status == "failed":
                return [], None
            return self._fail(now, f"explicit failure from {r.by}")
        if self.spec.success == "decision":
            if r.decision not in self.spec.decisions:
                raise Rejected(f"decision must be one of {', '.join(self.spec.decisions)}")
            self.status, self.decision, self.founder_action = (
                "decided",
                r.decision,
                r.founder_action,
            )
        else:
            self.status = "acknowledged"
        self.by = r.by
        state = self.steps.state
        state.pending.clear()  # a late answer stops the rest of the failure ladder
        actions = self.steps.pages.resolve(lambda p: True, now, f"answered by {r.by}")
        self.steps.ctx.log(
            now,
            f"handoff:{self.inp.name}",
            self.status,
            r.by,
            f"{self.spec.title}: {self.status} by {r.by}",
        )
        self.steps.ladder.schedule(
            self.spec.on_success,
            f"handoff:{self.inp.name}",
            "success",
            now,
            self.inp.owner,
            {**self.context, "by": r.by, "decision": r.decision},
        )
        actions += self.steps.advance(now)
        return actions, self._result(self.status)

    def page_update(
        self, dedup_key: str, status: PageUpdateStatus, now: datetime
    ) -> tuple[list[Action], HandoffResult | None]:
        """PagerDuty says a page this handoff raised was acknowledged/resolved:
        its target has picked the handoff up (an acknowledgement); a decision
        handoff still needs its decision, so only the ladder stops."""
        page = self.steps.state.pages.get(dedup_key)
        if page is None and dedup_key.startswith(f"{self.inp.handoff_id}:start:"):
            # the page the ticket raised when the handoff started (`on_start`)
            if (
                self.spec.success == "acknowledged"
                and self.status in ("open", "failed")
                and status == "acknowledged"
            ):
                return self.respond(HandoffResponse(by=self.inp.target, ok=True), now)
            return [], None
        if page is None or page.status == "resolved":
            return [], None
        page.status = status
        if self.spec.success == "acknowledged" and self.status in ("open", "failed"):
            return self.respond(HandoffResponse(by=page.target, ok=True), now)
        self.steps.state.pending.clear()
        self.steps.ctx.log(
            now,
            f"handoff:{self.inp.name}",
            f"pagerduty.{status}",
            page.target,
            f"Page to {page.target} {status} in PagerDuty; ladder stopped",
        )
        return [], self.progress()

    def timeout(self, now: datetime) -> tuple[list[Action], HandoffResult]:
        return self._fail(now, "timed out")

    def advance(self, now: datetime, before: datetime | None = None) -> list[Action]:
        return self.steps.advance(now, before)

    def _fail(self, now: datetime, why: str) -> tuple[list[Action], HandoffResult]:
        self.status = "failed"
        self.steps.ctx.log(
            now,
            f"handoff:{self.inp.name}",
            "handoff.failed",
            self.inp.target,
            f"{self.spec.title}: {why}",
        )
        self.steps.ladder.schedule(
            self.spec.on_failure,
            f"handoff:{self.inp.name}",
            "failure",
            now,
            self.inp.owner,
            self.context,
        )
        actions = self.steps.advance(now)
        return actions, self._result("failed")

    def _result(self, outcome: str) -> HandoffResult:
        ladder = self.steps.state.ladder[self._reported :]
        self._reported = len(self.steps.state.ladder)
        owner = self.steps.state.owner
        return HandoffResult(
            handoff_id=self.inp.handoff_id,
            outcome=outcome,
            by=self.by,
            decision=self.decision,
            founder_action=self.founder_action,
            new_owner=owner if owner != self.inp.owner else None,
            ladder=ladder,
        )

    def progress(self) -> HandoffResult | None:
        """Ladder entries taken since the last report (e.g. the secondary page)."""
        if len(self.steps.state.ladder) == self._reported:
            return None
        return self._result("failed") if self.status == "failed" else None
