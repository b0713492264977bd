"""Slack and e-mail, without servers: the Block Kit message, Slack's request
signature, a click's parsing and the Slack user -> person mapping, the
e-mail's parts and Message-ID, the engine's posts and their updates, and
what `pack check` says about slack and email steps."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from activities.email import compose, message_id
from activities.slack_blocks import ACK, ESCALATE, TAKE, blocks, is_marked, workflow_of
from engine.core import TicketEngine
from engine.policy_loader import load_policy
from models.channels import EmailInput
from models.ticket import Contact, Ticket
from packtools.check import check_text
from sandbox.slack_contract import violations
from starter.signatures import SignatureError, sign_slack, verify_slack
from starter.slack_actions import ClickError, parse_click, party_of
from tests.helpers import AT, POLICIES_DIR, channel_message

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


# ---------------------------------------------------------------- Block Kit


def test_the_message_carries_its_key_fields_links_and_three_actions():
    m = channel_message("ticket-1-7:c1")
    out = blocks(m, "<http://c/console/tickets/ticket-1-7|Console>")
    assert out[0]["block_id"] == "tf|ticket-1-7:c1" and is_marked({"blocks": out}, m.key)
    text = json.dumps(out)
    for value in ("Dana Reyes &lt;dana@example.com&gt;", "Response SLA 30m", "5 minutes late"):
        assert value in text  # the customer's <email> escaped, not a Slack link
    [actions] = [b for b in out if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [ACK, TAKE, ESCALATE]
    assert workflow_of(actions["block_id"]) == "ticket-1-7"
    done = blocks(
        m.model_copy(update={"status": "Resolved by Lola at 03:14", "buttons": False}), ""
    )
    assert not [b for b in done if b["type"] == "actions"] and "Resolved by Lola" in str(done)
    assert done[0]["block_id"] == out[0]["block_id"]  # the marker survives an edit


def test_the_requests_the_activities_send_match_slacks_spec():
    body = {"channel": "C0X1", "text": "t", "blocks": blocks(channel_message("k"), "")}
    assert violations("chat.postMessage", "POST", "application/json", body, bearer=True) == []
    assert violations("chat.postMessage", "POST", "application/json", body, bearer=False)
    assert violations(
        "chat.postMessage", "POST", "application/json", {**body, "metadata": {}}, True
    )
    assert violations("conversations.history", "GET", "", {"channel": "C1", "limit": "x"}, True)


# ------------------------------------------------------------- signatures


def test_our_signature_is_the_one_slacks_own_sdk_verifies():
    """slack-sdk's SignatureVerifier, an independent implementation of Slack's v0 scheme."""
    from slack_sdk.signature import SignatureVerifier

    body, now = b"payload=%7B%22type%22%3A%22block_actions%22%7D", time.time()
    headers = sign_slack(SECRET, body, int(now))
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    verify_slack(SECRET, body, **_headers(headers), now=now)


def test_forged_stale_and_missing_signatures_are_refused():
    body = b"payload=%7B%7D"
    now = time.time()
    verify_slack(SECRET, body, **_headers(sign_slack(SECRET, body, int(now))), now=now)
    with pytest.raises(SignatureError, match="does not match"):
        verify_slack(SECRET, body, **_headers(sign_slack("forged", body, int(now))), now=now)
    with pytest.raises(SignatureError, match="more than 5 minutes"):
        old = sign_slack(SECRET, body, int(now) - 301)
        verify_slack(SECRET, body, **_headers(old), now=now)
    with pytest.raises(SignatureError, match="does not match"):
        verify_slack(SECRET, body + b"x", **_headers(sign_slack(SECRET, body, int(now))), now=now)
    with pytest.raises(SignatureError, match="missing"):
        verify_slack(SECRET, body, None, None)


def _headers(h: dict[str, str]) -> dict[str, str]:
    return {"timestamp": h["X-Slack-Request-Timestamp"], "signature": h["X-Slack-Signature"]}


# ------------------------------------------------------- clicks and people


def _click(action_id: str, **extra: object) -> bytes:
    act: dict[str, object] = {
        "action_id": action_id,
        "block_id": "tfa|ticket-1-7|abcd",
        "value": "ticket-1-7",
    }
    act.update(extra)
    payload = {
        "type": "block_actions",
        "user": {"id": "U0LEAD0001"},
        "actions": [act],
        "channel": {"id": "C0HOTDASH1"},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_a_click_names_its_ticket_action_and_user():
    c = parse_click(_click(ACK))
    assert (c.workflow_id, c.action, c.user, c.channel) == (
        "ticket-1-7",
        "acknowledge",
        "U0LEAD0001",
        "C0HOTDASH1",
    )
    assert parse_click(_click(TAKE)).action == "reassign_to"
    esc = parse_click(_click(ESCALATE, selected_option={"value": "needs_manager"}))
    assert (esc.action, esc.reason) == ("request_escalation", "needs_manager")
    for bad in (b"payload=notjson", b"x=1", _click("other"), _click(ESCALATE)):
        with pytest.raises(ClickError):
            parse_click(bad)


def test_a_slack_user_maps_to_the_person_of_the_pack_and_channels_never_count():
    pack = load_policy("ops-ladder", POLICIES_DIR)
    assert party_of(pack, "U0LEAD0001") == "support_lead"
    assert party_of(pack, "C0HOTDASH1") is None  # a channel's id is nobody
    assert party_of(pack, "U0STRANGER") is None and party_of(None, "U0LEAD0001") is None


# ------------------------------------------------------------------ e-mail


def test_an_email_has_both_parts_and_a_message_id_from_its_key():
    m = channel_message("ticket-1-7:e1")
    inp = EmailInput(message=m, to="escalations@example.com", subject="Critical", at=AT)
    msg = compose(inp, "tf <tf@example.com>", "http://c/t", None, "http://ui/w")
    assert msg["Message-ID"] == message_id(m.key, "tf <tf@example.com>")
    assert (
        msg["Message-ID"].endswith("@example.com>")
        and message_id("other", "x@y") != msg["Message-ID"]
    )
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Customer: Dana Reyes <dana@example.com>" in plain and "http://c/t" in plain
    assert "Dana Reyes &lt;dana@example.com&gt;" in html


# ------------------------------------------------------------------ engine


def test_a_post_is_kept_current_on_acknowledge_take_and_resolve():
    pack = load_policy("ops-ladder", POLICIES_DIR)
    ticket = Ticket(
        account_id=1,
        conversation_id=7,
        policy="ops-ladder",
        contact=Contact(name="Dana"),
        labels=["severity:s1"],
    )
    e = TicketEngine.new(pack, ticket, "ticket-1-7")
    posts = [a for a in e.open(AT) if a.kind == "slack.post"]
    assert [(a.params["to"], a.target) for a in posts] == [("C0HOTDASH1", "support_hotdash")]
    assert posts[0].params["message"]["level"].startswith("3")
    [upd] = [
        a
        for a in e.acknowledged("support_lead", AT + timedelta(minutes=3))
        if a.kind == "slack.update"
    ]
    assert upd.params["post_key"] == posts[0].key
    assert upd.params["message"]["status"].startswith("Acknowledged by Support lead on duty at")
    [took] = [
        a
        for a in e.reassign("manager", "manager", AT + timedelta(minutes=4))
        if a.kind == "slack.update"
    ]
    assert took.params["message"]["status"].startswith("Taken by Support manager")
    [done] = [
        a for a in e.resolve("manager", "", AT + timedelta(minutes=5)) if a.kind == "slack.update"
    ]
    assert done.params["message"]["buttons"] is False and not e.state.slack_posts
    e2 = TicketEngine.new(pack, ticket, "ticket-1-8")
    e2.chat_updates = False  # a ticket started before `chat-channels`
    e2.open(AT)
    assert not [a for a in e2.acknowledged("support_lead", AT) if a.kind == "slack.update"]


# --------------------------------------------------------------- pack check

PACK = """
name: p
version: "1"
timezone: UTC
people:
  lola: {name: Lola}
teams:
  ops: {name: "#ops", kind: channel, slack: C0OPS00001}
  void: {name: Void, kind: channel}
coverage: [{owner: lola}]
rules:
  - on: ticket_opened
    do:
      - {do: slack, target: lola, template: t}
      - {do: email, target: ops, template: t}
      - {do: slack, target: opps, template: t}
      - {do: slack, target: ops, template: late}
      - {do: page, target: ops}
templates:
  t: "Ticket {short_id}"
  late: "{clock} due {deadline}"
"""


def test_pack_check_knows_slack_and_email_steps():
    kinds: dict[str, str] = {}
    for p in check_text(PACK).problems:
        kinds[p.kind] = kinds.get(p.kind, "") + p.message + "\n"
    assert "'lola' has no `slack:` id" in kinds["missing-slack-id"]
    assert "'ops' has no `email:` address" in kinds["missing-email"]
    assert "'opps'" in kinds["unknown-party"]  # an unknown channel party
    assert "{clock} is always empty" in kinds["empty-placeholder"]  # not what the step provides
    assert "channel" in kinds["channel-unreachable"] and "'void'" in kinds["channel-unreachable"]
    assert "cannot be a page target" in kinds["channel-not-a-party"]
    assert "channel-not-configured" not in kinds
    configured = {p.kind for p in check_text(PACK, configured=frozenset({"email"})).problems}
    assert "channel-not-configured" in configured


def test_whatif_counts_slack_posts_and_emails_beside_pages_and_notes():
    from zoneinfo import ZoneInfo

    from dryrun.replay import Replay
    from dryrun.whatif_metrics import Side
    from models.actions import Action

    def act(kind: str) -> Action:
        return Action(kind=kind, key=kind, at=AT, summary=kind)

    kinds = ["slack.post", "slack.post", "email.send", "chatwoot.note", "pagerduty.trigger"]
    side = Side()
    side.add(Replay("w", "w", AT, [act(k) for k in kinds]), ZoneInfo("UTC"))
    out = side.as_dict()
    assert (out["slack_posts"], out["emails"], out["notes"], out["pages_total"]) == (2, 1, 1, 1)
