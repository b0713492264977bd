"""Every delivery attempt to an outside system, counted by outcome.

`ticketflow_pages_total` (workflows/metrics.py) counts the pages the SOP
decided; this counts what happened when ticketflow tried to deliver them:
`ticketflow_delivery_attempts_total{system, action, outcome}`, outcome
`delivered` or `failed` (each failed attempt; Temporal retries it). A page
decided but failing shows here first, long before its retries give up, and
the shipped alert rules (infra/prometheus-alerts.yml) watch it. Recorded
through the activity's metric meter (the worker's Prometheus endpoint, or a
no-op without one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio import activity

DELIVERY_ATTEMPTS = "ticketflow_delivery_attempts_total"


def _count(system: str, action: str, outcome: str) -> None:
    try:
        meter = activity.metric_meter()
    except RuntimeError:  # not inside an activity (a direct call in a test)
        return
    meter.create_counter(DELIVERY_ATTEMPTS, "Delivery attempts to outside systems").add(
        1, {"system": system, "action": action, "outcome": outcome}
    )


@asynccontextmanager
async def attempt(system: str, action: str) -> AsyncIterator[None]:
    """Count the enclosed call as delivered, or failed if it raises."""
    try:
        yield
    except BaseException:
        _count(system, action, "failed")
        raise
    _count(system, action, "delivered")
