"""What a workflow's engine consumed, written to `ticket_inputs` (behind the
`ticket-inputs` patch).

The engines are deterministic: given what a ticket opened with and every
input it then consumed, each with the `now` it was given, `TicketEngine`
decides the same actions again, without Temporal. So the workflows note each
input as they feed it to the engine (`InputLog.add`), and hand a decision's
notes to `audit.record_inputs` once its actions have run (`flush`):

- `open`: the ticket `TicketEngine.new` got, its life and the engine's code
  path flags, at the `now` of `open(now)`;
- each signal or update applied, as its inbox name (`customer_replied`,
  `acknowledged`, `handoff_result` ...), its typed payload (`source` has a
  column of its own) and the engine's refusal, if any;
- `advance`: a wake with a deadline or a ladder step due by `now` (with
  nothing due, `advance` changes nothing, so it is not noted);
- `recent_level_counted`: the answer to a `query.recent_level` action;
- `action_failed`: an action that failed after its retries (the engine's
  `record_failure`; a failed query also means no answer came).

A handoff (its own engine, engine/handoff.py) notes its inputs under its own
workflow id: `open` (its input, without the pack), `respond`, `page_update`,
`timeout`, `advance` and `action_failed`.

The write runs beside the workflow, never in its way: the loop goes on, and
the next page goes out, while it runs. One write is in flight at a time
(notes flushed meanwhile go with the next), and `settle` waits for all of
them before a run ends. Like the audit lanes it is first a local activity,
then a regular one with retries (workflows/actions.py `run_activity`); one
that still fails is logged and audited as `action.failed`, and the ticket
goes on. Every row is keyed by (workflow id, life, seq), `seq` carried
across continue-as-new, so a retry or a replay writes nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from models.actions import Action
    from models.policy import Policy
    from models.recorded_inputs import InputRow, RecordInputs
    from models.signals import Source
    from workflows.actions import ACTIVITY_FAILED, ActionContext, failure_message, run_activity
    from workflows.failures import audit_failed_action
    from workflows.held_task import LocalCalls


class Timed(Protocol):
    """An engine that lets time run: TicketEngine, HandoffEngine."""

    def next_wakeup(self) -> datetime | None: ...

    def advance(self, now: datetime, before: datetime | None = None) -> list[Action]: ...


class InputLog:
    def __init__(
        self,
        workflow_id: str,
        life: str | None,
        policy: Policy,
        ctx: Callable[[], ActionContext],
        now: Callable[[], datetime],
        *,
        seq: int | None,
        local: bool,
    ) -> None:
        """`seq`: the last one written (0 for a new workflow); None records nothing."""
        self.on = seq is not None
        self.seq = seq or 0
        self._row = dict(
            workflow_id=workflow_id,
            life=life or "",
            policy=policy.name,
            policy_version=policy.version,
        )
        # As the engine keys its actions.
        self._key_base = f"{workflow_id}:{life}" if life else workflow_id
        self._ctx = ctx
        self._now = now
        self._local = local
        # Beside the loop (`background-lanes`): local attempts bounded to this, and made
        # only while Postgres answered the last write within it (see workflows/lanes.py).
        self.local_attempt: timedelta | None = None
        self.calls: LocalCalls | None = None  # its local attempts, counted (`held-timers`)
        self._answering = True
        self._notes: list[InputRow] = []  # this decision's, until `flush`
        self._ready: list[InputRow] = []  # flushed, for the writer
        self._writer: asyncio.Task | None = None

    def add(
        self,
        kind: str,
        at: datetime,
        payload: dict[str, Any] | None = None,
        source: Source | None = "system",
        rejected: str | None = None,
    ) -> None:
        if self.on:
            self.seq += 1
            self._notes.append(
                InputRow(
                    **self._row,
                    seq=self.seq,
                    kind=kind,
                    payload=payload or {},
                    at=at,
                    source=source,
                    rejected=rejected,
                )
            )

    def applied(self, kind: str, arg: BaseModel, at: datetime, rejected: str | None = None) -> None:
        """A signal or update the engine was given (or refused), as sent; `at` is
        the instant it was applied at (its `occurred_at`, clamped), so that is
        not repeated in the payload, nor its `kind` (the row's own)."""
        if self.on:
            self.add(
                kind,
                at,
                arg.model_dump(mode="json", exclude={"source", "occurred_at", "kind"}),
                getattr(arg, "source", None),
                rejected,
            )

    def failed(self, a: Action, why: str, at: datetime) -> None:
        self.add(
            "action_failed",
            at,
            {"action": a.kind, "key": a.key, "target": a.target, "error": why[:300]},
        )

    def advance(self, engine: Timed, now: datetime, before: datetime | None = None) -> list[Action]:
        """`engine.advance(now)`, noted when something was due by now. With
        `before` (an event at that instant comes next): only what was due
        strictly before it, noted with it."""
        if before is None:
            due = engine.next_wakeup() if self.on else None
            if due is not None and due <= now:
                self.add("advance", now, source="timer")
            return engine.advance(now)
        due = engine.next_wakeup()
        if due is None or due > now or due >= before:
            return []
        self.add("advance", now, {"before": before.isoformat()}, source="timer")
        return engine.advance(now, before)

    # ------------------------------------------------------------------ write

    def flush(self) -> None:
        """Hand this decision's notes to the writer (started when idle)."""
        self._ready += self._notes
        self._notes = []
        if self._ready and self._writer is None:
            self._writer = asyncio.create_task(self._write_ready())

    async def settle(self) -> None:
        """Every note written, or given up on: before the run ends."""
        self.flush()
        if self._writer is not None:
            await self._writer

    async def _write_ready(self) -> None:
        try:
            while self._ready:
                rows, self._ready = self._ready, []
                await self._write(rows)
        finally:
            self._writer = None

    async def _write(self, rows: list[InputRow]) -> None:
        summary = f"Record inputs {rows[0].seq}-{rows[-1].seq}: " + ", ".join(r.kind for r in rows)
        began = self._now()
        local = self._local and self._answering
        try:
            await run_activity(
                AuditActivities.record_inputs,
                RecordInputs(rows=rows),
                summary,
                local,
                self.local_attempt,
                self.calls,
            )
            self._answering = self._answered_in_time(began)
        except ACTIVITY_FAILED as err:
            self._answering = self._answered_in_time(began)
            why = failure_message(err)
            workflow.logger.warning("inputs not recorded", extra={"seq": rows[0].seq, "error": why})
            # Not one of the engine's actions (no such kind): built unchecked, for its audit
            # row only.
            a = Action.model_construct(
                # Outside ActionKind on purpose: model_construct does not validate it.
                kind="audit.record_inputs",  # type: ignore[arg-type]
                key=f"{self._key_base}:inputs:{rows[0].seq}",
                at=self._now(),
                target=None,
                summary=summary[:200],
                params={},
            )
            ctx = replace(
                self._ctx(),
                local=self._local and self._answering,
                local_attempt=self.local_attempt,
            )
            await audit_failed_action(a, ctx, why, self._now())

    def _answered_in_time(self, began: datetime) -> bool:
        return self.local_attempt is None or self._now() - began < self.local_attempt
