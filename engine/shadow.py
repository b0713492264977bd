"""Shadow mode in the decision core: what a ticket in shadow does instead
of calling Chatwoot, PagerDuty, Slack or e-mail (models/shadow.py says which
tickets).

Every action the core builds goes through `TicketContext.action`; for a
ticket in shadow, one that would reach Chatwoot (message, note, labels,
assignment, status, attributes), PagerDuty (trigger, acknowledge, resolve),
Slack (post, update) or e-mail is turned here into a `shadow.withheld`
marker: an audit row (`ticket_events`) whose summary says what would have
been sent, keyed as the withheld action would have been. Everything else
the ticket decides (clocks, the ladder, owner, level, stage, its own audit
rows, handoffs) happens as on a live ticket, so the board, the Web UI and
`whatif` show what the SOP does. The same code runs in the workflow,
`simulate` and the what-if replay, so they agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

WITHHELD = "shadow.withheld"
# What a ticket in shadow never sends.
WITHHELD_KINDS = frozenset(
    {
        "chatwoot.message",
        "chatwoot.note",
        "chatwoot.labels",
        "chatwoot.assign",
        "chatwoot.status",
        "chatwoot.attributes",
        "pagerduty.trigger",
        "pagerduty.acknowledge",
        "pagerduty.resolve",
        "slack.post",
        "slack.update",
        "email.send",
    }
)
CONTENT_SHOWN = 300  # characters of a message or note the summary quotes


def would(kind: str, summary: str, target: str | None, params: dict[str, Any]) -> str:
    """What a withheld action would have done, for people: "Would page Lola
    Daniels: VIP first response ...", "Would message the customer: ..."."""
    content = str(params.get("content", ""))[:CONTENT_SHOWN]
    if kind == "chatwoot.message":
        return f"Would message the customer: {content}"
    if kind == "chatwoot.note":
        return f"Would post a private note: {content}"
    if kind == "slack.post":
        return f"Would post to Slack ({target or 'a channel'}): {summary}"
    if kind == "email.send":
        return f"Would e-mail {target or 'someone'}: {summary}"
    if kind == "chatwoot.assign":
        return f"Would assign the conversation to {target or 'nobody'} in Chatwoot"
    text = summary[:1].lower() + summary[1:]
    if kind.startswith("chatwoot."):
        return f"Would {text} (Chatwoot)"
    return f"Would {text}"


def withheld_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The marker's params: the withheld kind and what it carried (routing key
    names only: keys themselves are never in an action)."""
    return {"would": kind, "would_params": params}


def withhold(
    kind: str,
    summary: str,
    target: str | None,
    params: dict[str, Any],
    name: Callable[[str | None], str],
) -> tuple[str, str, dict[str, Any]]:
    """(kind, summary, params) of the `shadow.withheld` marker for this action."""
    return (
        WITHHELD,
        would(kind, summary, name(target) if target else None, params)[:1024],
        withheld_params(kind, params),
    )
