"""Where each kind of action goes: the one table of routes.

For every `ActionKind` the engine can decide: the lane that runs it beside
the loop (workflows/lanes.py), the activity that carries it out alone
(workflows/actions.py), the batch activity that may carry it with others of
its decision (workflows/batched.py), and whether it is a *barrier* on the
older batched path (it runs alone, after everything decided before it).
The worker registers every activity named here, and says which one is
missing at start-up if it does not (worker.py). A new action kind is one
row here; a kind without a row is refused by the table's test and by
`route()` with its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from activities.audit_batch import AuditBatchActivities
    from activities.chatwoot import ChatwootActivities
    from activities.chatwoot_batch import ChatwootBatchActivities
    from activities.email import EmailActivities
    from activities.pagerduty import PagerDutyActivities
    from activities.slack import SlackActivities
    from models.actions import MARKERS, ActionKind

LaneName = Literal["pagerduty", "chatwoot", "postgres", "handoff", "slack", "email"]
Batch = Literal["chatwoot", "audit"]


@dataclass(frozen=True)
class Route:
    lane: LaneName
    # The activity method that carries the action out alone; None: the workflow
    # itself (a child handoff workflow started or signalled).
    activity: Any | None
    batch: Batch | None = None  # the batch activity that may carry it with others
    barrier: bool = False  # on the batched path: alone, after everything before it


BATCH_ACTIVITIES: dict[Batch, Any] = {
    "chatwoot": ChatwootBatchActivities.apply_batch,
    "audit": AuditBatchActivities.record_batch,
}

_CHATWOOT = {
    "chatwoot.message": ChatwootActivities.send_message,
    "chatwoot.note": ChatwootActivities.send_message,
    "chatwoot.labels": ChatwootActivities.update_labels,
    "chatwoot.assign": ChatwootActivities.assign,
    "chatwoot.status": ChatwootActivities.set_status,
    "chatwoot.attributes": ChatwootActivities.merge_custom_attributes,
}
_AUDIT_ROWS = {
    "audit.vip_concierge_action": AuditActivities.record_vip_concierge_action,
    "audit.support_escalations": AuditActivities.record_support_escalation,
    "audit.founder_pull": AuditActivities.record_founder_pull,
    "audit.vip_flag_change": AuditActivities.record_vip_flag_change,
    "audit.decision_log": AuditActivities.record_decision_log,
}

ROUTES: dict[str, Route] = {
    **{k: Route("chatwoot", fn, batch="chatwoot") for k, fn in _CHATWOOT.items()},
    **{
        k: Route("pagerduty", PagerDutyActivities.send_event)
        for k in ("pagerduty.trigger", "pagerduty.acknowledge", "pagerduty.resolve")
    },
    **{k: Route("postgres", fn, batch="audit") for k, fn in _AUDIT_ROWS.items()},
    **{k: Route("postgres", AuditActivities.record_ticket_event, batch="audit") for k in MARKERS},
    "query.recent_level": Route("postgres", AuditActivities.count_recent_level, barrier=True),
    # A post before its updates, in order: one lane, one call at a time.
    "slack.post": Route("slack", SlackActivities.post),
    "slack.update": Route("slack", SlackActivities.update),
    "email.send": Route("email", EmailActivities.send),
    **{
        k: Route("handoff", None, barrier=True)
        for k in ("handoff.start", "handoff.signal", "handoff.page")
    },
}

BARRIERS = frozenset(k for k, r in ROUTES.items() if r.barrier)
AUDIT_ROWS = frozenset(_AUDIT_ROWS)  # the audit.* kinds: a row in a table of their own


def route(kind: str) -> Route:
    found = ROUTES.get(kind)
    if found is None:
        raise ValueError(f"no route for action kind {kind!r} (workflows/routes.py)")
    return found


def activity_name(fn: Any) -> str:
    """The name an activity method is registered under."""
    return str(fn.__temporal_activity_definition.name)


def routed_activity_names() -> set[str]:
    """Every activity the routes name: the worker must register each."""
    fns = [r.activity for r in ROUTES.values() if r.activity is not None]
    return {activity_name(fn) for fn in [*fns, *BATCH_ACTIVITIES.values()]}


def unrouted_kinds() -> set[str]:
    """Action kinds the engine may decide that have no route (none, by the tests)."""
    return set(get_args(ActionKind)) - set(ROUTES)
