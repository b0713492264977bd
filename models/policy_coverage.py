"""Who a ticket goes to in a policy pack: the people and teams (parties),
the coverage rules that pick a new ticket's owner, and the classification
axes whose values set the facts those rules (and every other condition)
test.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from models.policy_terms import Condition, _Strict


class Party(_Strict):
    """A person or a team that can own, be paged or receive a handoff."""

    name: str = Field(description="The name people read: `Alicia Garrett`, `Tier 1 support`.")
    kind: Literal["person", "team", "channel"] = Field(
        "person", description="person, team, or channel (a Slack channel or a mailbox only)."
    )
    chatwoot_agent_id: int | None = Field(
        None, description="The Chatwoot agent to assign (a person)."
    )
    chatwoot_team_id: int | None = Field(None, description="The Chatwoot team to assign (a team).")
    pagerduty: str | None = Field(
        None,
        description="The *name* of a routing key in settings "
        "(PAGERDUTY_ROUTING_KEYS), never the key itself.",
    )
    slack: str | None = Field(
        None,
        pattern=r"^[UWCG][A-Z0-9]{2,}$",
        description="A Slack user id (U..., W...: a direct message, and whose buttons count "
        "as this person's) or a channel id (C..., G...) for `do: slack`.",
    )
    email: str | None = Field(
        None, pattern=r"^[^@\s]+@[^@\s]+$", description="The address `do: email` sends to."
    )
    backup: str | None = Field(
        None, description="Who covers when this party does not answer (a person or team id)."
    )
    calendar: str | None = Field(
        None, description="When this party works (a calendar id; coverage and display)."
    )

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    @property
    def slack_user(self) -> str | None:
        """The Slack user id of this party, if its `slack` names a person."""
        return self.slack if self.slack and self.slack[0] in "UW" else None


class CoverageRule(_Strict):
    """Who owns a new ticket: the first rule whose condition holds (and, with
    `calendar`, whose calendar is open for intake at that instant)."""

    owner: str = Field(description="The person or team id that owns the ticket.")
    when: Condition = Field(
        default_factory=dict, description="Facts that must hold, e.g. `{vip: true}`."
    )
    calendar: str | None = Field(None, description="Only while this calendar is open for intake.")


class DimensionValue(_Strict):
    """One value of a classification axis, and the facts it sets on the ticket."""

    labels: list[str] = Field(
        default_factory=list, description="Chatwoot labels that select this value."
    )
    facts: dict[str, Any] = Field(
        default_factory=dict,
        description="Facts this value sets, e.g. `{priority: high, timeframe: 12 hours}`.",
    )
    title: str | None = None


class Dimension(_Strict):
    """One classification axis (ask type, severity, category, urgency): read
    from a conversation custom attribute, or a label `prefix + value`, or a
    label listed under a value; else `default`."""

    attribute: str | None = Field(
        None, description="The Chatwoot conversation custom attribute to read."
    )
    label_prefix: str | None = Field(
        None, description="Labels `<prefix><value>` select a value, e.g. `severity:`."
    )
    default: str | None = Field(None, description="The value when nothing selects one.")
    values: dict[str, DimensionValue]
