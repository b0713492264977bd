"""What the engine produces: events, facts and template context, per pack.

A pack can name any event of `models.policy.EventName`, test any fact in a
`when` and use any field of `engine.templates.FIELDS` in a template; the
engine, though, raises some events only when the pack has what raises them
(a `level` step, a handoff ...), sets facts only from classification, the
pack's `facts:` and a few of its own, and fills context fields only where
they mean something (`{clock}` in a breach ladder). These sets live in
the engine's code (the decision core, engine/core.py and the modules it is
split into), not in constants, so they are written out here, each next to
what it mirrors; tests/test_pack_check.py reads the engine's source for
the events it emits and the facts it sets, and runs the engine over the
shipped packs' scenarios, and fails when the engine produces something
these sets do not know.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from models.policy import Policy, Step

# Raised from a signal (Chatwoot webhook or operator), whatever the pack says:
# the ticket opening, an acknowledgement (or a first reply), replies, resolve,
# reopen, the VIP flag, a pending status, a reassignment.
SIGNAL_EVENTS = frozenset(
    {
        "ticket_opened",
        "acknowledged",
        "agent_replied",
        "agent_replied_substantive",
        "customer_replied",
        "resolved",
        "reopened",
        "vip_set",
        "vip_removed",
        "status_pending",
        "assigned",
    }
)
# Raised only when the pack has what raises them (see `event_sources`); `closed`
# is never raised: closing a ticket raises no event.
PACK_EVENTS = frozenset(
    {
        "classified",
        "escalated",
        "handoff_acknowledged",
        "handoff_decided",
        "handoff_failed",
        "level_changed",
        "level_counted",
    }
)
WHY_NEVER = {
    "classified": ("the pack has no classification", "add a `classification:` dimension"),
    "escalated": (
        "nothing starts a handoff",
        "add an `escalations:` route or a `do: handoff` step",
    ),
    "handoff_failed": ("the pack has no handoffs", "add a handoff under `handoffs:`"),
    "handoff_acknowledged": (
        "no handoff has `success: acknowledged`",
        "use handoff_decided for decision handoffs",
    ),
    "handoff_decided": (
        "no handoff has `success: decision`",
        "use handoff_acknowledged, or give a handoff `success: decision` and `decisions:`",
    ),
    "level_changed": ("no step sets a level", "add a `do: level` step, or react to another event"),
    "level_counted": (
        "no `count_recent_level` step asks for the count",
        "add a `do: count_recent_level` step",
    ),
    "closed": (
        "the engine raises no event when a ticket closes",
        "put what should happen on close in the ladder next to the `do: close` step",
    ),
}

# The ticket's own facts: stage, owner and level, and the contact's, set when it opens.
TICKET_FACTS = frozenset(
    {"stage", "owner", "level", "vip", "vip_flag", "founder_personal", "customer_id"}
)
HANDOFF_FACTS = frozenset(
    {"escalated", "escalated_to", "last_handoff"}
)  # set when a handoff starts
BREACH_FACTS = frozenset({"sla_breached"})  # set when a clock breaches
PARTY_FACTS = frozenset(
    {"owner", "escalated_to", "target"}
)  # facts and context keys that hold a party id


def recent_level_fact(level: int) -> str:
    return f"recent_level_{level}_count"  # set when a count_recent_level step has its answer


# The context each event is raised with (rules' `when` and their steps see it).
EVENT_CONTEXT: dict[str, frozenset[str]] = {
    e: frozenset(keys)
    for e, keys in {
        "ticket_opened": (),
        "classified": (),
        "customer_replied": (),
        "condition_met": (),
        "closed": (),
        "acknowledged": ("by",),
        "agent_replied": ("by",),
        "agent_replied_substantive": ("by",),
        "resolved": ("by", "resolution"),
        "reopened": ("by",),
        "vip_set": ("by", "why", "new_vip"),
        "vip_removed": ("by", "why", "new_vip"),
        "status_pending": ("status",),
        "assigned": ("target",),
        "level_changed": ("level",),
        "level_counted": ("counted_level", "count"),
        "escalated": (
            "handoff",
            "target",
            "reason",
            "by",
            "timeframe",
            "issue",
            "attempted",
            "impact",
            "handoff_title",
            "payload",
        ),
        **{
            e: ("handoff", "target", "reason", "by", "decision", "founder_action")
            for e in ("handoff_failed", "handoff_acknowledged", "handoff_decided")
        },
    }.items()
}
BREACH_CONTEXT = frozenset({"clock", "timeframe", "deadline"})  # a breach ladder's context
HANDOFF_CONTEXT = EVENT_CONTEXT["escalated"] | {
    "secondary"
}  # engine.handoff: on_failure / on_success
ALL_CONTEXT = frozenset().union(
    *EVENT_CONTEXT.values(), BREACH_CONTEXT, HANDOFF_CONTEXT, {"decision"}
)

# Template fields (engine.templates.FIELDS) by where the engine's template context gets them.
ALWAYS_FIELDS = frozenset(
    {
        "first_name",
        "customer_name",
        "customer_email",
        "ticket_id",
        "short_id",
        "conversation_id",
        "owner_name",
        "owner_first_name",
        "stage",
        "level",
        "summary",
        "resolution",
    }
)
FACT_FIELDS = frozenset(
    {"severity", "priority", "urgency", "category", "ask_type", "issue_type", "timeframe"}
)
TARGET_FIELDS = frozenset(
    {"target", "expert", "expert_name", "team"}
)  # the step's, event's or last handoff's target
CONTEXT_FIELDS = frozenset(
    {
        "reason",
        "by",
        "issue",
        "attempted",
        "impact",
        "handoff_title",
        "payload",
        "clock",
        "deadline",
        "timeframe",
    }
)
LEVEL_FIELDS = frozenset({"level_name"})  # the pack's `levels:`
# Context fields read from the handoff payload when a handoff starts: filled only when
# some handoff's payload has one of these fields.
PAYLOAD_FIELDS = {
    "issue": ("issue_summary", "issue", "ask"),
    "attempted": ("alicia_already_tried", "attempted"),
    "impact": ("impact",),
}


@dataclass(frozen=True)
class Site:
    """A list of steps and what the engine knows when they run."""

    loc: tuple
    steps: list[Step]
    context: frozenset[str]
    label: str


def sites(policy: Policy) -> Iterator[Site]:
    emitted = {s.event for s in all_steps(policy) if s.do == "emit"}
    for name, clock in policy.clocks.items():
        yield Site(
            ("clocks", name, "on_breach"),
            clock.on_breach,
            BREACH_CONTEXT,
            f"clock {name}'s breach ladder",
        )
    for i, rule in enumerate(policy.rules):
        ctx = ALL_CONTEXT if rule.on in emitted else EVENT_CONTEXT.get(rule.on, frozenset())
        yield Site(("rules", i, "do"), rule.do, ctx, f"rules[{i}] (on: {rule.on})")
    for name, h in policy.handoffs.items():
        yield Site(
            ("handoffs", name, "on_start"),
            h.on_start,
            EVENT_CONTEXT["escalated"],
            f"handoff {name}'s on_start",
        )
        yield Site(
            ("handoffs", name, "on_failure"),
            h.on_failure,
            HANDOFF_CONTEXT,
            f"handoff {name}'s on_failure",
        )
        yield Site(
            ("handoffs", name, "on_success"),
            h.on_success,
            HANDOFF_CONTEXT | {"decision"},
            f"handoff {name}'s on_success",
        )


def all_steps(policy: Policy) -> Iterator[Step]:
    for clock in policy.clocks.values():
        yield from clock.on_breach
    for rule in policy.rules:
        yield from rule.do
    for h in policy.handoffs.values():
        yield from (*h.on_start, *h.on_failure, *h.on_success)


def event_sources(policy: Policy) -> set[str]:
    """The events that can happen on a ticket of this pack."""
    events = set(SIGNAL_EVENTS)
    if policy.classification:
        events.add("classified")
    if policy.escalations:
        events.add("escalated")
    for h in policy.handoffs.values():
        events |= {
            "handoff_failed",
            "handoff_acknowledged" if h.success == "acknowledged" else "handoff_decided",
        }
    for step in all_steps(policy):
        raised: dict[str, set[str]] = {
            "level": {"level_changed"},
            "count_recent_level": {"level_counted"},
            "handoff": {"escalated"},
            # a validated emit step always names its event (Step._needs)
            "emit": {step.event} if step.event is not None else set(),
        }
        events |= raised.get(step.do, set())
    return events


def fact_sources(policy: Policy) -> dict[str, str]:
    """Every fact a ticket of this pack can have, with what sets it."""
    facts = {f: "the engine" for f in TICKET_FACTS}
    if policy.clocks:
        facts.update({f: "a clock's breach" for f in BREACH_FACTS})
    if "escalated" in event_sources(policy):
        facts.update({f: "a handoff's start" for f in HANDOFF_FACTS})
    for step in all_steps(policy):
        if step.do == "count_recent_level" and step.level is not None:
            facts[recent_level_fact(step.level)] = "a count_recent_level step"
    facts.update({f: "the pack's facts" for f in policy.facts})
    for dim_name, dim in policy.classification.items():
        facts[dim_name] = f"classification {dim_name}"
        for value in dim.values.values():
            facts.update({f: f"classification {dim_name}" for f in value.facts if f not in facts})
    return facts


def fact_values(policy: Policy, fact: str) -> set | None:
    """The values a fact can take, when the pack says exactly (a classification
    dimension set nowhere else, the stage); None when anything goes."""
    if fact == "stage":
        return set(policy.stages)
    dim = policy.classification.get(fact)
    if dim is None or fact in policy.facts:
        return None
    if any(fact in v.facts for d in policy.classification.values() for v in d.values.values()):
        return None
    return set(dim.values)


def template_fields(policy: Policy, site: Site, step: Step) -> set[str]:
    """The template fields that have a value when `step` of `site` runs."""
    facts = fact_sources(policy)
    out = set(ALWAYS_FIELDS) | {f for f in FACT_FIELDS if f in facts}
    out |= CONTEXT_FIELDS & site.context
    payload_fields = {k for h in policy.handoffs.values() for k in h.payload}
    out -= {f for f, keys in PAYLOAD_FIELDS.items() if not payload_fields & set(keys)}
    if step.target or "target" in site.context or "escalated_to" in facts:
        out |= TARGET_FIELDS
    if policy.levels:
        out |= LEVEL_FIELDS
    return out
