"""Business metrics the SOPs track, emitted from the workflows.

They go through `workflow.metric_meter()`, so they are replay-safe (a
replay after a worker restart or a cache eviction records nothing twice)
and come out of the worker's Temporal runtime next to the SDK's own
metrics (the Prometheus endpoint `infra.telemetry` starts). Without a
metrics endpoint the meter is a no-op.

Each is derived from the actions the decision core returns, so nothing in
the engine knows about metrics. Attributes are low-cardinality on purpose
(pack, clock, target, outcome: names from the packs, never ticket ids);
the SDK adds namespace, task_queue and workflow_type.

| metric | kind | attributes |
| --- | --- | --- |
| `ticketflow_tickets_opened_total` | counter | pack, vip |
| `ticketflow_sla_breaches_total` | counter | pack, clock |
| `ticketflow_pages_total` | counter | pack, target |
| `ticketflow_escalations_total` | counter | pack, via (handoff, level) |
| `ticketflow_tickets_escalated_total` | counter | pack (a ticket's first escalation) |
| `ticketflow_handoffs_total` | counter | pack, outcome (acknowledged, decided, failed) |
| `ticketflow_steps_missed_total` | counter | pack (steps past `max_catch_up`) |
| `ticketflow_breach_lateness_seconds` | histogram | pack, clock |
| `ticketflow_actions_failed_total` | counter | pack, lane (an action given up after its retries) |
| `ticketflow_lane_jobs_total` | counter | pack, lane, state (submitted, done) |
| `ticketflow_lane_wait_seconds` | histogram | pack, lane (from a job's submission to its end) |
| `ticketflow_policy_errors_total` | counter | pack (a ticket parked: its pack would not load) |
| `ticketflow_shadow_withheld_total` | counter | pack, would (the call a shadow ticket withheld) |

A lane's backlog is `submitted - done` of `ticketflow_lane_jobs_total`, and
`ticketflow_lane_wait_seconds` says how long its jobs waited: both grow while
a system hangs or fails, and the PagerDuty lane's stay flat while Chatwoot's
grow (pages unaffected). The activities count each delivery attempt too
(`ticketflow_delivery_attempts_total`, activities/delivery_metrics.py).

A ticket in shadow mode (models/shadow.py) sends nothing: its withheld
pages are counted in `ticketflow_shadow_withheld_total`, never in
`ticketflow_pages_total`.

Breach lateness is measured from the deadline to the moment the worker
decided the breach and dispatched its first action (timer lateness plus
workflow-task backlog: what grows when the worker falls behind). Breaches
whose deadline fell before the ticket started (a backfill of an old
conversation) are not observed: their "lateness" is the conversation's age.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import MetricMeter

with workflow.unsafe.imports_passed_through():
    from models.actions import Action

TICKETS_OPENED = "ticketflow_tickets_opened_total"
SLA_BREACHES = "ticketflow_sla_breaches_total"
PAGES = "ticketflow_pages_total"
ESCALATIONS = "ticketflow_escalations_total"
TICKETS_ESCALATED = "ticketflow_tickets_escalated_total"
HANDOFFS = "ticketflow_handoffs_total"
STEPS_MISSED = "ticketflow_steps_missed_total"
BREACH_LATENESS = "ticketflow_breach_lateness_seconds"
ACTIONS_FAILED = "ticketflow_actions_failed_total"
LANE_JOBS = "ticketflow_lane_jobs_total"
LANE_WAIT = "ticketflow_lane_wait_seconds"
POLICY_ERRORS = "ticketflow_policy_errors_total"
SHADOW_WITHHELD = "ticketflow_shadow_withheld_total"
# Seconds: a breach acted on within a second is healthy, minutes means a backlog.
LATENESS_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]

_COUNTERS = {
    TICKETS_OPENED: "Tickets opened",
    SLA_BREACHES: "SLA clocks that breached",
    PAGES: "PagerDuty pages triggered",
    ESCALATIONS: "Escalations (a handoff started or the escalation level rose)",
    TICKETS_ESCALATED: "Tickets escalated at least once (escalation rate = this / tickets opened)",
    HANDOFFS: "Handoffs ended, by outcome",
    STEPS_MISSED: "Notifying ladder steps recorded as missed (over max_catch_up)",
    ACTIONS_FAILED: "Actions given up after their retries, by lane",
    LANE_JOBS: "Lane jobs submitted and done (backlog = submitted - done)",
    POLICY_ERRORS: "Tickets parked in policy_error (their pack would not load)",
    SHADOW_WITHHELD: "Chatwoot and PagerDuty calls tickets in shadow mode recorded, not sent",
}
_HISTOGRAMS = {
    BREACH_LATENESS: "Seconds from an SLA deadline to its first action",
    LANE_WAIT: "Seconds from a lane job's submission to its end",
}


class WorkflowMetrics:
    """Instruments are created on first use: most batches record nothing."""

    def __init__(self, pack: str, meter: Callable[[], MetricMeter] = workflow.metric_meter) -> None:
        self.pack = pack
        self._meter = meter  # the workflow's replay-safe meter; tests pass a recording one
        self._instruments: dict[str, Any] = {}
        # Set again on every replay (only recording is replay-suppressed), so it is
        # deterministic; a continued run sets it from the carried state.
        self.escalated = False

    def _get(self, name: str):
        inst = self._instruments.get(name)
        if inst is None:
            meter = self._meter()
            if name in _HISTOGRAMS:
                inst = meter.create_histogram_float(name, _HISTOGRAMS[name], "s")
            else:
                inst = meter.create_counter(name, _COUNTERS[name])
            self._instruments[name] = inst
        return inst

    def _count(self, name: str, **attrs: str) -> None:
        self._get(name).add(1, {"pack": self.pack, **attrs})

    def lane_job(self, lane: str, state: str, waited: float | None = None) -> None:
        """A lane job submitted, or done (after `waited` seconds)."""
        self._count(LANE_JOBS, lane=lane, state=state)
        if waited is not None:
            self._get(LANE_WAIT).record(max(waited, 0.0), {"pack": self.pack, "lane": lane})

    def action_failed(self, lane: str) -> None:
        self._count(ACTIONS_FAILED, lane=lane)

    def policy_error(self) -> None:
        self._count(POLICY_ERRORS)

    def observe(
        self,
        actions: Iterable[Action],
        now: datetime,
        since: datetime | None = None,
        vip: bool = False,
    ) -> None:
        """Record what a batch of decided actions means for the SOP's
        numbers. `now` is the ticket's clock; breaches due before `since`
        (when the ticket started) get no lateness."""
        for a in actions:
            kind, p = a.kind, a.params
            if kind == "ticket.opened":
                self._count(TICKETS_OPENED, vip="true" if vip else "false")
            elif kind == "sla.breached":
                clock = str(p.get("clock", "unknown"))
                self._count(SLA_BREACHES, clock=clock)
                deadline = _instant(p.get("deadline")) or a.at
                if since is None or deadline >= since:
                    self._get(BREACH_LATENESS).record(
                        max((now - deadline).total_seconds(), 0.0),
                        {"pack": self.pack, "clock": clock},
                    )
            elif kind == "pagerduty.trigger":
                self._count(PAGES, target=a.target or "default")
            elif kind in ("handoff.started", "ticket.level"):
                self._count(ESCALATIONS, via="handoff" if kind == "handoff.started" else "level")
                if not self.escalated:
                    self.escalated = True
                    self._count(TICKETS_ESCALATED)
            elif kind == "handoff.completed":
                self._count(HANDOFFS, outcome=str(p.get("outcome", "acknowledged")))
            elif kind == "handoff.failed":
                self._count(HANDOFFS, outcome="failed")
            elif kind == "ladder.missed":
                self._count(STEPS_MISSED)
            elif kind == "shadow.withheld":
                self._count(SHADOW_WITHHELD, would=str(p.get("would", "unknown")))


def _instant(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
