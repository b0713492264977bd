"""An SLA clock of a policy pack: when it starts, stops and restarts, how
long it runs (in wall or business time), and the ladder of steps it walks
when it breaches. engine/clocks.py runs it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from models.policy_steps import Step
from models.policy_terms import Condition, Duration, EventName, _Strict


class ClockSpec(_Strict):
    """An SLA clock: runs from a start event until a stop event; when its
    deadline passes it breaches and walks `on_breach` (each step `after` the
    breach). `calendar` makes it count business time of that calendar.
    `repeat` re-arms it after each breach (a cadence: status check every 4h);
    `restart_on` pushes the deadline out again (customer update every 24h,
    reset by each agent reply).

    A start event *arms* the clock; it runs while `when` holds (and, for a
    `customer_facing` clock, while the ticket is not silent) and waits
    otherwise. A stop event ends it whether it runs or waits, so a later
    classification never revives a clock an agent already satisfied: it only
    moves the target of the one that runs (the priority variants of one SLA
    share `measure_from: ticket_opened`, so each re-derives its deadline
    from the same start). `classified`, `vip_set` and `vip_removed` in
    `starts_on` arm a clock that was never armed, never one that stopped."""

    title: str = Field(description="What people see on the board and in alerts; one per clock.")
    starts_on: list[EventName] = Field(description="Events that arm the clock.")
    stops_on: list[EventName] = Field(
        default_factory=list, description="Events that end it (an ack, a reply)."
    )
    restart_on: list[EventName] = Field(
        default_factory=list, description="Events that push its deadline out again."
    )
    when: Condition = Field(
        default_factory=dict, description="It runs while these facts hold, waits otherwise."
    )
    duration: Duration = Field(
        description="How long until it breaches: `30m`, `4h`, `1h30m`, `2d`."
    )
    calendar: str | None = Field(
        None, description="Count business time of this calendar instead of wall time."
    )
    # Count from the start event, or from the later moment its condition first
    # holds (default), or from when the ticket opened (a resolution SLA that
    # starts once the ask type is known; response SLAs by priority).
    measure_from: Literal["event", "ticket_opened"] = "event"
    # An SLA about engaging the customer: it never runs while the ticket is
    # silent (the pack's `silent_when`), so a legal ticket is not nagged.
    customer_facing: bool = False
    repeat: bool = Field(False, description="Re-arm after each breach (a cadence).")
    on_breach: list[Step] = Field(
        default_factory=list, description="The ladder walked when it breaches."
    )
    # Pages raised by this clock are resolved when it stops (an ack ends the alert).
    resolve_pages_on_stop: bool = True
