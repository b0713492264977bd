"""End to end on a real Temporal dev server and real Postgres, with real
HTTP and SMTP: an S1 ops-ladder ticket posts its summary to #support-hotdash
in the Slack stand-in with three buttons; a signed Acknowledge click from
the lead's Slack user acknowledges it, the message is edited in place and
the audit trail names the lead; a forged signature and a replay older than
five minutes get 401 and change nothing. A critical tier-escalation ticket
sends the e-mail its SOP lists to the SMTP sink, once, even when the send
is retried. Every Slack call is checked against Slack's published spec."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.email import EmailActivities
from activities.slack_blocks import ACK
from dryrun.simulate import terminate_ticket_tree
from infra.http_server import InProcessServer
from infra.settings import Settings, load_settings
from models.channels import EmailInput
from sandbox.chatwoot import create_chatwoot_app
from sandbox.pagerduty import create_pagerduty_app
from sandbox.slack import create_slack_app
from sandbox.smtp_sink import SmtpSink
from starter.signatures import sign_slack
from tests import payloads
from tests.helpers import (
    AT,
    POLICIES_DIR,
    activity_env,
    channel_message,
    eventually,
    now_value,
    settled,
    signed,
    worker_and_bridge,
)

pytestmark = pytest.mark.e2e

SECRET, SLACK_SECRET, TOKEN, BOT = "whsec-e2e", "slack-signing-e2e", "cw-e2e", "xoxb-e2e"
LEAD, STRANGER = "U0LEAD0001", "U0STRANGER"


@dataclass
class Stack:
    bridge: str
    slack: FastAPI
    sink: SmtpSink
    client: Client
    pool: Any
    settings: Settings
    started: list[str] = field(default_factory=list)


@asynccontextmanager
async def stack(
    dev_env: WorkflowEnvironment, pg_dsn: str, default_policy: str
) -> AsyncIterator[Stack]:
    cw_app = create_chatwoot_app(TOKEN, auto_create=True)
    pd_app, slack_app = create_pagerduty_app(None), create_slack_app(BOT)
    cw, pd = await InProcessServer(cw_app).start(), await InProcessServer(pd_app).start()
    sl = await InProcessServer(slack_app).start()
    sink = await SmtpSink().start()
    queue = f"e2e-slack-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        _env_file=None,
        temporal_task_queue=queue,
        database_url=pg_dsn,
        chatwoot_base_url=cw.url,
        chatwoot_api_token=TOKEN,
        chatwoot_account_id=1,
        pagerduty_events_url=pd.url,
        pagerduty_routing_key="P" * 32,
        webhook_secret=SECRET,
        slack_bot_token=BOT,
        slack_signing_secret=SLACK_SECRET,
        slack_api_url=f"{sl.url}/api",
        smtp_url=f"smtp://127.0.0.1:{sink.port}",
        email_from="ticketflow <ticketflow@craudiovizai.com>",
        policies_dir=POLICIES_DIR,
        default_policy=default_policy,
    )
    started: list[str] = []
    try:
        async with worker_and_bridge(settings, dev_env.client, pg_dsn) as (bridge, pool):
            yield Stack(bridge, slack_app, sink, dev_env.client, pool, settings, started)
            for wid in started:
                await terminate_ticket_tree(dev_env.client, wid, "test cleanup")
    finally:
        for srv in (cw, pd, sl):
            await srv.stop()
        await sink.stop()


async def open_ticket(s: Stack, conv: int, labels: list[str]) -> str:
    body = payloads.conversation(conv_id=conv, vip=False, labels=labels, name="Dana Reyes")
    body.pop("created_at")
    raw = json.dumps(body).encode()
    async with httpx.AsyncClient() as c:
        resp = await c.post(
            s.bridge + "/webhooks/chatwoot",
            content=raw,
            headers={"content-type": "application/json", **signed(SECRET, raw)},
        )
    assert resp.status_code == 202, resp.text
    wid = resp.json()["workflow_id"]
    s.started.append(wid)
    return wid


def click_body(message: dict, action_id: str, user: str, channel: str) -> bytes:
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    [button] = [e for e in actions["elements"] if e["action_id"] == action_id]
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": "T0TEAM"},
        "api_app_id": "A0TICKETFLOW",
        "team": {"id": "T0TEAM", "domain": "example"},
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
        "trigger_id": "1.2.3",
        "channel": {"id": channel, "name": "support-hotdash"},
        "message": message,
        "response_url": "https://hooks.slack.invalid/actions/T0/1/x",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": actions["block_id"],
                "value": button["value"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def click(s: Stack, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=20) as c:
        return await c.post(
            s.bridge + "/webhooks/slack",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded", **headers},
        )


def hotdash(s: Stack) -> list[dict]:
    return list(s.slack.state.channels.get("C0HOTDASH1", []))


async def test_s1_posts_to_support_hotdash_and_a_signed_click_acknowledges_it(
    dev_env, postgres_dsn
):
    async with stack(dev_env, postgres_dsn, "ops-ladder") as s:
        wid = await open_ticket(s, 8101, ["severity:s1"])
        [post] = await eventually(lambda: now_value(hotdash(s)), lambda m: len(m) >= 1)
        [actions] = [b for b in post["blocks"] if b["type"] == "actions"]
        labels = [(e.get("text") or e["placeholder"])["text"] for e in actions["elements"]]
        assert labels == ["Acknowledge", "Take it", "Escalate…"]
        [select] = [e for e in actions["elements"] if e["type"] == "static_select"]
        assert [o["value"] for o in select["options"]] == ["needs_manager"]  # the pack's reasons
        text = json.dumps(post["blocks"])
        assert "Dana Reyes" in text and "/console/tickets/" + wid in text
        assert "level 3" in text.lower()

        # A forged signature and a replay older than five minutes: 401, nothing changes.
        body = click_body(post, ACK, LEAD, "C0HOTDASH1")
        forged = sign_slack("not-the-secret", body)
        assert (await click(s, body, forged)).status_code == 401
        stale = sign_slack(SLACK_SECRET, body, timestamp=int(time.time()) - 301)
        assert (await click(s, body, stale)).status_code == 401
        # Someone not on the rota: told privately, nothing changes.
        other = click_body(post, ACK, STRANGER, "C0HOTDASH1")
        resp = await click(s, other, sign_slack(SLACK_SECRET, other))
        assert resp.status_code == 200 and resp.json()["status"] == "ignored"
        assert [e["user"] for e in s.slack.state.ephemeral] == [STRANGER]
        status = await settled(s.client.get_workflow_handle(wid))
        assert status.acknowledged_at is None

        # The lead acknowledges; the same signed request again is a replay.
        headers = sign_slack(SLACK_SECRET, body)
        resp = await click(s, body, headers)
        assert resp.status_code == 200 and resp.json() == {
            "status": "accepted",
            "workflow_id": wid,
            "by": "support_lead",
        }
        assert (await click(s, body, headers)).status_code == 401
        status = await settled(s.client.get_workflow_handle(wid))
        assert status.acknowledged_by == "support_lead"
        [edited] = await eventually(
            lambda: now_value(hotdash(s)), lambda m: "Acknowledged by" in json.dumps(m)
        )
        assert edited["ts"] == post["ts"] and edited.get("edited")
        assert "Acknowledged by Support lead on duty at" in json.dumps(edited["blocks"])
        assert len(hotdash(s)) == 1  # updated in place, never a second message
        # The audit names the lead: the ticket's trail, and its inputs (sender `slack`).
        assert any(e.action == "acknowledged" and e.target == "support_lead" for e in status.ladder)
        inputs = await s.pool.fetch(
            "SELECT kind, payload FROM ticket_inputs WHERE workflow_id = $1 AND source = 'slack'",
            wid,
        )
        assert [
            (json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"])["by"]
            for r in inputs
        ] == ["support_lead"]
        assert s.slack.state.violations == []


async def test_a_critical_ticket_emails_escalations_once_even_when_retried(dev_env, postgres_dsn):
    async with stack(dev_env, postgres_dsn, "tier-escalation") as s:
        wid = await open_ticket(s, 8201, ["urgency:critical"])
        sent = await eventually(
            lambda: now_value(s.sink.messages), lambda m: len(m) >= 1, timeout=30
        )
        await settled(s.client.get_workflow_handle(wid))
        sent = list(s.sink.messages)
        assert [m["to"] for m in sent] == [["escalations@craudiovizai.com"]]
        assert sent[0]["html"] and "CRITICAL" in sent[0]["text"]
        assert sent[0]["message_id"].endswith("@craudiovizai.com>")
        # Slack: #escalations and a DM to the on-call engineer.
        posted = {ch for ch, msgs in s.slack.state.channels.items() if msgs}
        assert "C0ESCALAT1" in posted and any(ch.startswith("D") for ch in posted)
        # The send retried (a worker died after the server took it): nothing new leaves.
        [row] = await s.pool.fetch(
            "SELECT action_key, message_id FROM channel_messages WHERE kind = 'email' "
            "AND action_key LIKE $1",
            wid + "%",
        )
        acts = EmailActivities(s.settings, s.pool)
        retry = EmailInput(
            message=channel_message(row["action_key"]),
            to="escalations@craudiovizai.com",
            subject="Critical ticket",
            at=AT,
        )
        again = await activity_env(2).run(acts.send, retry)
        assert again.deduplicated and again.message_id == row["message_id"]
        assert len(s.sink.messages) == 1
        assert s.slack.state.violations == []


async def test_an_email_send_retried_before_it_was_recorded_keeps_its_message_id(pg_pool):
    """Without the record (the first attempt's answer lost), a retry sends again with the
    same Message-ID: the copy is recognisable as the same message."""
    sink = await SmtpSink().start()
    try:
        settings = load_settings(_env_file=None, smtp_url=f"smtp://127.0.0.1:{sink.port}")
        acts = EmailActivities(settings, pg_pool)
        inp = EmailInput(
            message=channel_message("ticket-1-9:k1"), to="ops@example.com", subject="s", at=AT
        )
        first = await ActivityEnvironment().run(acts.send, inp)
        await pg_pool.execute("DELETE FROM channel_messages WHERE action_key = 'ticket-1-9:k1'")
        second = await ActivityEnvironment().run(acts.send, inp)
        assert first.message_id == second.message_id
        assert {m["message_id"] for m in sink.messages} == {first.message_id}
        third = await ActivityEnvironment().run(acts.send, inp)
        assert third.deduplicated and len(sink.messages) == 2
    finally:
        await sink.stop()
