"""What the outage scenarios do to the stack and read back from it: a
Postgres that stops answering (every server process SIGSTOPped: connections
stay open, queries and new connections hang), an agent's reply as Chatwoot
delivers it, an operator's acknowledge timed from the outside, and when
each page really left (the PagerDuty stand-in's clock)."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from client.tickets import send_update
from models.signals import Acknowledged
from tests import payloads
from tests.faults.stack import CW_TOKEN, Stack
from workflows.ticket import TicketWorkflow

ACK_SECONDS = 4.0  # the fast VIP pack's first-acknowledgment clock (tests/faults/stack.fast_pack)


def _ppid(proc: Path) -> int | None:
    try:
        # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")"
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def postgres_pids(stack: Stack) -> list[int]:
    """The postmaster and every backend and helper it forked."""
    pid_file = next(stack.pg.data_dir.rglob("postmaster.pid"))
    master = int(pid_file.read_text().split()[0])
    children = [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == master
    ]
    return [master, *children]


def postgres_hang(stack: Stack) -> list[int]:
    pids = postgres_pids(stack)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    return pids


def postgres_resume(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def reply_webhook(conv_id: int, msg_id: int, at: float) -> dict:
    """`message_created` for an agent's public reply, as Chatwoot sends it."""
    body = payloads.message(
        "outgoing",
        conv_id=conv_id,
        msg_id=msg_id,
        sender_type="user",
        sender_name="Alicia",
        sender_email="alicia@example.com",
        content="Hi Dana, I'm on it.",
    )
    body["created_at"] = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    return body


async def reply_in_chatwoot(stack: Stack, conv_id: int) -> int:
    """An agent answers in Chatwoot itself (the message is in the
    conversation, whatever becomes of its webhook); the message id."""
    resp = await stack.http.post(
        f"{stack.urls['chatwoot']}/api/v1/accounts/1/conversations/{conv_id}/messages",
        json={"content": "Hi Dana, I'm on it.", "message_type": "outgoing"},
        headers={"api_access_token": CW_TOKEN},
    )
    resp.raise_for_status()
    return int(resp.json()["id"])


async def acknowledge(stack: Stack, wid: str) -> tuple[str, float]:
    """An operator's acknowledge, as the CLI and the console send it: the
    ticket's stage after it and the seconds it took to answer."""
    t0 = time.monotonic()
    status = await send_update(
        stack.client,
        wid,
        TicketWorkflow.acknowledge,
        Acknowledged(by="alicia"),
        source="cli",
    )
    return status.stage, time.monotonic() - t0


async def page_times(stack: Stack, wids: list[str]) -> dict[str, list[float]]:
    """Each ticket's accepted PagerDuty triggers: when each reached PagerDuty."""
    out: dict[str, list[float]] = {w: [] for w in wids}
    for c in await stack.calls("pagerduty"):
        body = c["body"] if isinstance(c["body"], dict) else {}
        key = body.get("dedup_key") or ""
        if c["status"] == 202 and body.get("event_action") == "trigger":
            for w in wids:
                if key.startswith(w + ":"):
                    out[w].append(c["at"])
    return out


async def chatwoot_landed(stack: Stack, wids: list[str]) -> dict[str, int]:
    """Each ticket's Chatwoot writes that went through (2xx)."""
    convs = {w: f"/conversations/{w.rsplit('-', 1)[1]}/" for w in wids}
    out = dict.fromkeys(wids, 0)
    for c in await stack.calls("chatwoot"):
        if c["method"] == "POST" and 200 <= c["status"] < 300:
            for w, part in convs.items():
                if part in c["path"]:
                    out[w] += 1
    return out


async def pending_activities(stack: Stack, wids: list[str]) -> int:
    """Activities the tickets still wait on (running or in retry backoff)."""
    n = 0
    for wid in wids:
        desc = await stack.client.get_workflow_handle(wid).describe()
        n += len(desc.raw_description.pending_activities)
    return n


async def reply_checks(stack: Stack, wids: list[str]) -> dict[str, str | None]:
    """What each ticket's first page says of the reply check (None: checked)."""
    out: dict[str, str | None] = {}
    for c in await stack.calls("pagerduty"):
        body = c["body"] if isinstance(c["body"], dict) else {}
        key = body.get("dedup_key") or ""
        if c["status"] != 202 or body.get("event_action") != "trigger":
            continue
        for w in wids:
            if key.startswith(w + ":") and w not in out:
                details = (body.get("payload") or {}).get("custom_details") or {}
                out[w] = details.get("reply_check")
    return out
