"""Slack posts and e-mails: what a `do: slack` or `do: email` step says,
and keeping each Slack post current.

A step's message carries the pack's template, rendered, and the ticket's
customer, the clock in play with its deadline and how late it is, and the
level; the activities lay it out (Block Kit, plain text plus HTML) and add
the links. A Slack post is remembered in state by its action key
(`slack_posts`), so that when the ticket is acknowledged, taken or
resolved each open post gets a `slack.update` (the same message, edited in
place: "Acknowledged by Lola at 03:14"), never a new one. A resolved
ticket's posts lose their buttons and are forgotten.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.context import TicketContext
from models.actions import Action
from models.durations import human_duration
from models.policy import Step
from models.state import PendingStep, SlackPostState

MAX_POSTS = 20  # Slack posts kept current per ticket (the oldest forgotten first)


class Channels:
    def __init__(self, ctx: TicketContext) -> None:
        self.ctx = ctx

    def send(
        self,
        pending: PendingStep,
        target: str,
        text: str,
        fields: dict[str, Any],
        key: str,
        summary: str | None,
    ) -> list[Action]:
        """The action of a `slack` or `email` step to `target` (a party of the pack)."""
        c, step, at = self.ctx, pending.step, pending.due
        party = c.policy.party(target)
        address = (party.slack if step.do == "slack" else party.email) if party else None
        if address is None:
            what = "Slack id" if step.do == "slack" else "e-mail address"
            c.log(at, pending.source, f"{step.do}.skipped", target, f"{c.name(target)}: no {what}")
            return []
        message = self.message(pending, step, text, fields, key, summary)
        if step.do == "email":
            subject = summary or message["title"]
            c.log(at, pending.source, "email.send", target, f"E-mail to {c.name(target)}")
            return [
                c.action(
                    "email.send",
                    at,
                    f"E-mail {c.name(target)}: {subject}"[:200],
                    target,
                    {"to": address, "subject": subject[:200], "message": message},
                    key=key,
                )
            ]
        c.state.slack_posts[key] = SlackPostState(to=address, target=target, at=at, message=message)
        del_keys = list(c.state.slack_posts)[:-MAX_POSTS]
        for old in del_keys:
            del c.state.slack_posts[old]
        c.log(at, pending.source, "slack.post", target, f"Slack post to {c.name(target)}")
        return [
            c.action(
                "slack.post",
                at,
                f"Slack {c.name(target)}: {message['title']}"[:200],
                target,
                {"to": address, "message": message},
                key=key,
            )
        ]

    def message(
        self,
        pending: PendingStep,
        step: Step,
        text: str,
        fields: dict[str, Any],
        key: str,
        summary: str | None,
    ) -> dict[str, Any]:
        c, s, at = self.ctx, self.ctx.state, pending.due
        t = s.ticket
        customer = t.contact.name or "Customer"
        if t.contact.email:
            customer += f" <{t.contact.email}>"
        clock_title, deadline, late = self._clock(pending, at)
        level = f"{s.level} — {c.policy.levels.get(s.level, '')}".rstrip(" —") if s.level else None
        title = summary or f"{fields.get('clock') or clock_title or 'Ticket'}: {fields['summary']}"
        return {
            "key": key,
            "title": title[:150],
            "text": text[:2900],
            "workflow_id": s.workflow_id,
            "account_id": t.account_id,
            "conversation_id": t.conversation_id,
            "customer": customer,
            "clock": fields.get("clock") or clock_title,
            "deadline": fields.get("deadline") or deadline,
            "late": late,
            "level": level,
            "status": None,
            "reasons": sorted(c.policy.escalations)[:100],
            "buttons": step.do == "slack",
        }

    def _clock(
        self, pending: PendingStep, at: datetime
    ) -> tuple[str | None, str | None, str | None]:
        """The clock in play: the step's own (a breach ladder), else the ticket's
        most pressing one (breached first, then the soonest deadline)."""
        c = self.ctx
        clocks = c.state.clocks
        clock = None
        if pending.source.startswith("clock:"):
            clock = clocks.get(pending.source.split(":", 1)[1])
        if clock is None:
            live = [k for k in clocks.values() if k.status in ("breached", "running")]
            live.sort(key=lambda k: (k.status != "breached", k.deadline))
            clock = live[0] if live else None
        if clock is None:
            return None, None, None
        now = c.wall or at
        delta = now - clock.deadline
        if delta.total_seconds() >= 0:
            late = f"{human_duration(delta, approx=True)} late"
        else:
            late = f"due in {human_duration(-delta, approx=True)}"
        return clock.title, c.local(clock.deadline), late

    def updated(self, status: str, at: datetime, *, done: bool = False) -> list[Action]:
        """Each open Slack post edited to say `status`; `done` (resolved,
        closed): without buttons, and forgotten afterwards."""
        c = self.ctx
        if not c.chat_updates or not c.state.slack_posts:
            return []
        actions = []
        for post_key, post in c.state.slack_posts.items():
            message = {**post.message, "status": status, "buttons": not done}
            post.message = message
            actions.append(
                c.action(
                    "slack.update",
                    at,
                    f"Slack update: {status}"[:200],
                    post.target,
                    {
                        "to": post.to,
                        "post_key": post_key,
                        "posted_at": post.at.isoformat(),
                        "message": message,
                    },
                )
            )
        if done:
            c.state.slack_posts.clear()
        return actions
