"""`ticketflow import chatwoot`: past conversations as recorded inputs, for `whatif`.

Before the first ticket is live, `whatif` has nothing to replay. This reads
the conversations active in a window through Chatwoot's Application API
(`GET .../conversations?status=all&sort_by=last_activity_at_desc&page=N`,
then each one's messages: starter/chatwoot_history.py) and records each as
a ticket's inputs in `ticket_inputs`: its opening at Chatwoot's
`created_at`, then every agent reply and customer message at its own
instant, then its status (resolved, pending, snoozed) at its last activity.
What `whatif` replays is what a ticket would have been given; no message
body is stored. The pack each conversation would have run (its inbox's, or
`--policy`) is stored in `pack_versions`, as a worker stores what it loads.

Records go under the life `imported` (models/adoption.py), never a live
ticket's: a conversation already recorded (imported before, or run by a
live ticket) is skipped, and a repeat import writes nothing twice (inserts
are ON CONFLICT DO NOTHING). Every conversation not imported is reported
with why.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from temporalio.exceptions import ApplicationError

from activities.chatwoot import ChatwootActivities
from engine.policy_loader import PolicyError, load_policy
from infra.settings import Settings
from models.adoption import IMPORTED_LIFE
from models.policy import Policy
from models.signals import Event
from models.ticket import ticket_workflow_id
from starter.chatwoot_events import WebhookError, ticket_from_conversation
from starter.chatwoot_history import last_activity, read_messages, reply_routes, status_event

log = structlog.get_logger(__name__)

MAX_PAGES = 400  # conversations pages (25 each) one import reads at most


@dataclass
class ImportReport:
    since: datetime
    imported: list[str] = field(default_factory=list)  # ticket ids
    events: int = 0  # replies, customer messages and statuses recorded
    by_pack: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # why -> ticket ids

    def skip(self, wid: str, why: str) -> None:
        self.skipped.setdefault(why, []).append(wid)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "imported": len(self.imported),
            "events": self.events,
            "by_pack": dict(self.by_pack),
            "skipped": {why: len(ids) for why, ids in self.skipped.items()},
            "skipped_tickets": self.skipped,
        }

    def text(self) -> str:
        packs = ", ".join(f"{n} {p}" for p, n in sorted(self.by_pack.items())) or "none"
        lines = [
            f"Imported {len(self.imported)} conversations active since "
            f"{self.since.isoformat()} ({self.events} events; packs: {packs}).",
        ]
        total = sum(len(ids) for ids in self.skipped.values())
        lines.append(f"Skipped {total}:" if total else "Skipped none.")
        for why, ids in sorted(self.skipped.items(), key=lambda kv: -len(kv[1])):
            shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
            lines.append(f"  {len(ids):>5}  {why}  ({shown})")
        return "\n".join(lines)


class Importer:
    def __init__(
        self,
        chatwoot: ChatwootActivities,
        conn: Any,  # asyncpg.Connection
        settings: Settings,
        *,
        account_id: int,
        inboxes: list[int] | None = None,
        policy: str | None = None,
    ) -> None:
        self.chatwoot, self.conn, self.settings = chatwoot, conn, settings
        self.account_id = account_id
        self.inboxes = set(inboxes) if inboxes else None
        self.policy = policy
        self._packs: dict[str, Policy | str] = {}  # a pack, or why it does not load

    async def run(self, since: datetime) -> ImportReport:
        report = ImportReport(since)
        base = self.chatwoot._url(self.account_id, 0).rsplit("/", 1)[0]  # .../conversations
        for page in range(1, MAX_PAGES + 1):
            body = await self.chatwoot._call(
                "GET", f"{base}?status=all&sort_by=last_activity_at_desc&page={page}"
            )
            convs = [
                c for c in (body.get("data") or {}).get("payload") or [] if isinstance(c, dict)
            ]
            if not convs:
                break
            active = False
            for conv in convs:
                at = last_activity(conv)
                if at is None or at < since:
                    continue
                active = True
                await self.one(conv, since, report)
            if not active:
                break  # most recently active first: the rest are older still
        log.info("import: done", imported=len(report.imported), events=report.events)
        return report

    def _pack(self, name: str) -> Policy | str:
        if name not in self._packs:
            try:
                self._packs[name] = load_policy(name, self.settings.policies_dir)
            except PolicyError as exc:
                self._packs[name] = f"pack {name} does not load: {exc}"
        return self._packs[name]

    async def one(self, conv: dict[str, Any], since: datetime, report: ImportReport) -> None:
        number = conv.get("display_id") or conv.get("id")
        wid = ticket_workflow_id(self.account_id, number if isinstance(number, int) else 0)
        try:
            ticket = ticket_from_conversation(conv, self.account_id, self.settings.policy_for_inbox)
        except WebhookError as exc:
            return report.skip(wid, f"conversation not usable: {exc}")
        if self.inboxes is not None and ticket.inbox_id not in self.inboxes:
            return report.skip(wid, "inbox not asked for (--inbox)")
        if self.policy is not None and ticket.policy != self.policy:
            return report.skip(wid, f"its inbox runs another pack than {self.policy}")
        if ticket.created_at is None:
            return report.skip(wid, "no creation instant")
        if ticket.created_at < since:
            return report.skip(wid, "created before the window (its clocks started earlier)")
        pack = self._pack(ticket.policy)
        if isinstance(pack, str):
            return report.skip(wid, pack)
        if await self._recorded(wid):
            return report.skip(wid, "already recorded")
        try:
            messages = await read_messages(self.chatwoot, self.account_id, ticket.conversation_id)
        except ApplicationError as exc:
            return report.skip(wid, f"messages not read: {exc.type or 'error'}")
        replies, _ = reply_routes(conv, messages, self.account_id, self.settings.policy_for_inbox)
        if not replies:
            return report.skip(wid, "no messages from the customer or an agent")
        events: list[tuple[str, Event]] = [
            (r.signal, r.arg) for r in replies if r.signal and isinstance(r.arg, Event)
        ]
        status = status_event(conv, self.account_id, self.settings.policy_for_inbox)
        if status is not None:
            events.append((status.kind, status))
        opening = ticket.ticket().model_dump(mode="json")
        await self._write(wid, opening, ticket.created_at, events, pack)
        report.imported.append(wid)
        report.events += len(events)
        report.by_pack[pack.name] += 1

    async def _recorded(self, wid: str) -> bool:
        """Imported before, or run by a live ticket (whose own record `whatif` replays)."""
        return bool(
            await self.conn.fetchval(
                "SELECT 1 FROM ticket_inputs WHERE workflow_id = $1 LIMIT 1", wid
            )
        )

    async def _write(
        self,
        wid: str,
        ticket: dict[str, Any],
        opened: datetime,
        events: list[tuple[str, Event]],
        pack: Policy,
    ) -> None:
        import json

        rows = [
            (
                "open",
                {
                    "ticket": ticket,
                    "life": IMPORTED_LIFE,
                    "event_stage_markers": True,
                    "sop_orders": True,
                },
                opened,
            )
        ]
        for kind, event in events:
            at = max(event.occurred_at or opened, opened)
            payload = event.model_dump(mode="json", exclude={"source", "occurred_at", "kind"})
            rows.append((kind, payload, at))
        data = pack.model_dump_json()
        async with self.conn.transaction():
            await self.conn.execute(
                """INSERT INTO pack_versions (name, version, sha256, policy_json)
                   VALUES ($1, $2, $3, $4) ON CONFLICT (name, version, sha256) DO NOTHING""",
                pack.name,
                pack.version,
                hashlib.sha256(data.encode()).hexdigest(),  # engine.shared_policy.content_key
                data,
            )
            await self.conn.executemany(
                """INSERT INTO ticket_inputs (workflow_id, life, seq, kind, payload, at, source,
                                              policy, policy_version)
                   VALUES ($1, $2, $3, $4, $5::jsonb, $6, 'system', $7, $8)
                   ON CONFLICT (workflow_id, life, seq) DO NOTHING""",
                [
                    (wid, IMPORTED_LIFE, seq, kind, json.dumps(p), at, pack.name, pack.version)
                    for seq, (kind, p, at) in enumerate(rows, start=1)
                ],
            )
