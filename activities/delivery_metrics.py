"""Every delivery attempt to an outside system, counted by outcome.

`ticketflow_pages_total` (workflows/metrics.py) counts the pages the SOP
decided; this counts what happened when ticketflow tried to deliver them:
`ticketflow_delivery_attempts_total{system, action, outcome}`, outcome
`delivered` or `failed` (each failed attempt; Temporal retries it). A page
decided but failing shows here first, long before its retries give up, and
the shipped alert rules (infra/prometheus-alerts.yml) watch it. Recorded
through the activity's metric meter (the worker's Prometheus endpoint, or a
no-op without one).

Each attempt also feeds the worker's view of which systems are failing now
and how many calls wait on them (activities/delivery_health.py), which the
operator console shows on its board.

Systems: `chatwoot` and `pagerduty` (each HTTP call), `postgres` (each
audit activity, `delivers_to`). An attempt inside another attempt on the
same system (an audit batch writing its rows through the single audit
activities) is the outer one's: it is counted once.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from temporalio import activity

from activities.delivery_health import HEALTH, call_key, refused_for_good, runtime_meter, will_retry

DELIVERY_ATTEMPTS = "ticketflow_delivery_attempts_total"

# The systems whose attempt encloses the running code.
_INSIDE: ContextVar[frozenset[str]] = ContextVar("ticketflow_delivery_inside", default=frozenset())

C = TypeVar("C", bound=type)


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
    """Count the enclosed call as delivered, or failed if it raises, and
    report it to the system's health (activities/delivery_health.py)."""
    inside = _INSIDE.get()
    if system in inside:  # the enclosing attempt counts and reports this call
        yield
        return
    token = _INSIDE.set(inside | {system})
    HEALTH.bind(runtime_meter())
    key = call_key()
    try:
        yield
    except BaseException as exc:
        _count(system, action, "failed")
        if refused_for_good(exc):
            HEALTH.refused(system, key)
        else:
            HEALTH.failed(system, key, retried=will_retry())
        raise
    finally:
        _INSIDE.reset(token)
    _count(system, action, "delivered")
    HEALTH.delivered(system, key)


def delivers_to(system: str) -> Callable[[C], C]:
    """Class decorator: each `@activity.defn` method of the class is one
    attempt on `system`, its action the activity's name (the Postgres audit
    activities). Apply it above `data_errors_are_final`, so a row Postgres
    rejects arrives as the non-retryable error it becomes."""

    def decorate(cls: C) -> C:
        for name, fn in list(vars(cls).items()):
            defn = getattr(fn, "__temporal_activity_definition", None)
            if callable(fn) and defn is not None:
                setattr(cls, name, _attempted(fn, system, defn.name or name))
        return cls

    return decorate


def _attempted(fn: Callable[..., Any], system: str, action: str) -> Callable[..., Any]:
    @functools.wraps(fn)  # keeps the activity definition, as data_errors_are_final does
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        async with attempt(system, action):
            return await fn(*args, **kwargs)

    return wrapper
