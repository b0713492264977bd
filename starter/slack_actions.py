"""A click on a ticket's Slack message (`POST /webhooks/slack`), applied as
the console applies an operator's action.

Slack posts interactivity as a form with one field, `payload`: JSON whose
`type` is `block_actions`, with the clicking `user.id`, the `channel.id`,
and `actions[0]` (`action_id`, `block_id`, and a button's `value` or a
select's `selected_option.value`). The actions block's id names the ticket
(activities/slack_blocks.py). The user is mapped to the person of the
ticket's pack whose `slack:` is that id; the action then goes through
console/actions.perform with that person as the one who did it and
`slack` as its sender: the same ticket validators, the same audit row.

Acknowledge -> `acknowledge`; Take it -> `reassign_to` the clicking person;
Escalate (a reason chosen) -> `request_escalation` with that reason.
A user no pack person has gets "you are not on this rota", privately, and
nothing changes; a refusal (already closed, a reason the pack refuses) is
said privately too. The message itself is edited by the ticket
(engine/channels.py), not here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from activities.slack_blocks import ACK, ESCALATE, TAKE, workflow_of
from models.policy import Policy

NOT_ON_ROTA = "You are not on this rota: ticketflow did not act on your click."


class ClickError(ValueError):
    """The request is not a click ticketflow can act on; the message says why."""


@dataclass(frozen=True)
class Click:
    workflow_id: str
    action: str  # acknowledge, reassign_to, request_escalation
    user: str  # the Slack user id
    channel: str | None
    reason: str | None = None


def parse_click(body: bytes) -> Click:
    """The click in a Slack interactivity request body (ClickError if none)."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        payload: Any = json.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        raise ClickError("expected a form with a JSON `payload` field") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise ClickError("only block_actions payloads are taken")
    actions = payload.get("actions")
    user = payload.get("user")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise ClickError("block_actions without actions")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        raise ClickError("block_actions without user.id")
    act = actions[0]
    wid = workflow_of(act.get("block_id"))
    if wid is None:
        raise ClickError("not a ticketflow message's button")
    channel = payload.get("channel")
    channel_id = channel.get("id") if isinstance(channel, dict) else None
    kind = act.get("action_id")
    if kind == ACK:
        return Click(wid, "acknowledge", user["id"], channel_id)
    if kind == TAKE:
        return Click(wid, "reassign_to", user["id"], channel_id)
    if kind == ESCALATE:
        chosen = act.get("selected_option")
        reason = chosen.get("value") if isinstance(chosen, dict) else None
        if not isinstance(reason, str) or not reason:
            raise ClickError("Escalate without a reason chosen")
        return Click(wid, "request_escalation", user["id"], channel_id, reason)
    raise ClickError(f"unknown action {kind!r}")


def party_of(pack: Policy | None, slack_user: str) -> str | None:
    """The person of `pack` whose Slack member id is `slack_user` (None: nobody)."""
    if pack is None:
        return None
    for pid, party in {**pack.teams, **pack.people}.items():
        if party.slack_user == slack_user:
            return pid
    return None


def form_values(click: Click, party: str) -> dict[str, str]:
    """The console form the click stands for."""
    if click.action == "reassign_to":
        return {"to": party}
    if click.action == "request_escalation":
        return {"reason": click.reason or ""}
    return {}
