"""workflows/metrics.py: which decided actions count as what (no server; a
recording meter stands in for the workflow's replay-safe one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from temporalio.common import MetricMeter

from models.actions import Action
from workflows.metrics import (
    BREACH_LATENESS,
    ESCALATIONS,
    HANDOFFS,
    PAGES,
    SLA_BREACHES,
    STEPS_MISSED,
    TICKETS_ESCALATED,
    TICKETS_OPENED,
    WorkflowMetrics,
)

T0 = datetime(2026, 11, 17, 16, tzinfo=UTC)


class _Recorder:
    """Just enough of MetricMeter: every add/record lands in `points`."""

    def __init__(self) -> None:
        self.points: list[tuple[str, float, dict]] = []

    def _inst(self, name: str):
        rec = self

        class _I:
            def add(self, value, attrs=None):
                rec.points.append((name, value, dict(attrs or {})))

            record = add

        return _I()

    def create_counter(self, name, description=None, unit=None):
        return self._inst(name)

    def create_histogram_float(self, name, description=None, unit=None):
        return self._inst(name)

    def total(self, name: str, **attrs) -> float:
        return sum(v for n, v, a in self.points if n == name and attrs.items() <= a.items())


def _a(kind: str, at: datetime = T0, target: str | None = None, **params) -> Action:
    return Action(
        kind=kind,
        key=f"k:{kind}:{at.isoformat()}",
        at=at,
        target=target,
        summary=kind,
        params=params,
    )


def _metrics() -> tuple[WorkflowMetrics, _Recorder]:
    rec = _Recorder()
    # the recorder is a duck-typed MetricMeter: just the calls WorkflowMetrics makes
    return WorkflowMetrics("vip-concierge", meter=lambda: cast(MetricMeter, rec)), rec


def test_each_marker_counts_once_with_low_cardinality_attributes():
    m, rec = _metrics()
    m.observe(
        [
            _a("ticket.opened"),
            _a("chatwoot.message"),
            _a("pagerduty.trigger", target="lola"),
            _a("pagerduty.trigger", target=None),
            _a("handoff.completed", outcome="decided"),
            _a("handoff.failed"),
            _a("ladder.missed"),
        ],
        T0,
        vip=True,
    )
    assert rec.total(TICKETS_OPENED, pack="vip-concierge", vip="true") == 1
    assert rec.total(PAGES, target="lola") == 1 and rec.total(PAGES, target="default") == 1
    assert (
        rec.total(HANDOFFS, outcome="decided") == 1 and rec.total(HANDOFFS, outcome="failed") == 1
    )
    assert rec.total(STEPS_MISSED) == 1
    assert all(
        set(a) <= {"pack", "vip", "target", "outcome", "clock", "via"} for _, _, a in rec.points
    )


def test_breach_lateness_from_the_deadline_unless_the_ticket_started_after_it():
    m, rec = _metrics()
    deadline = T0 + timedelta(minutes=30)
    m.observe(
        [_a("sla.breached", clock="first_ack", deadline=deadline.isoformat())],
        deadline + timedelta(seconds=7.5),
        since=T0,
    )
    assert rec.total(SLA_BREACHES, clock="first_ack") == 1
    assert [(v, a["clock"]) for n, v, a in rec.points if n == BREACH_LATENESS] == [
        (7.5, "first_ack")
    ]
    # a backfill: the conversation is months old, the deadline long past when the ticket started
    m.observe(
        [_a("sla.breached", clock="resolution", deadline=(T0 - timedelta(days=90)).isoformat())],
        T0 + timedelta(seconds=1),
        since=T0,
    )
    assert rec.total(SLA_BREACHES, clock="resolution") == 1
    assert len([p for p in rec.points if p[0] == BREACH_LATENESS]) == 1


def test_a_ticket_counts_as_escalated_once_however_it_escalates():
    m, rec = _metrics()
    m.observe([_a("ticket.level", level=1)], T0)
    m.observe([_a("handoff.started"), _a("ticket.level", level=2)], T0)
    assert rec.total(ESCALATIONS, via="level") == 2 and rec.total(ESCALATIONS, via="handoff") == 1
    assert rec.total(TICKETS_ESCALATED) == 1
    carried, rec2 = _metrics()
    carried.escalated = True  # a continued run of a ticket escalated before
    carried.observe([_a("handoff.started")], T0)
    assert rec2.total(ESCALATIONS) == 1 and rec2.total(TICKETS_ESCALATED) == 0
