"""What a ticket (or a handoff) says about itself in the Temporal Web UI.

On-call staff open a ticket's page in the Web UI; its input JSON and a
hundred history events do not tell them who owns it, which SLA broke and
who was paged. These pure functions render that as a short Markdown board
(the workflow's *current details*, refreshed after every batch of actions)
and a one-line *static summary* set when the ticket starts, so the
workflow list itself reads `VIP · Jane Doe · vip-concierge`.

Pure: no clock, no I/O, no settings. Every instant is printed in the
pack's zone with the offset in force at that instant
(`models.timezones.local_time`); nothing relative to "now", so a board
rendered at 10:31 is still true when read at 11:00.

Plain Markdown (bold, inline code, lists, links): the Web UI renders it,
and the CLI prints it legibly as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from models.handoff import HandoffInput, HandoffStatus
from models.policy import Policy
from models.state import ClockState, HandoffState, LadderEntry
from models.status import TicketStatus
from models.ticket import Ticket
from models.timezones import local_time, zone

LAST_STEPS = 5  # ladder steps a board shows (the newest)
SUMMARY_MAX = 200  # Temporal keeps summaries short; the Web UI list shows one line
OPEN_HANDOFF = ("open", "failed")  # a failed handoff still walks its on-failure ladder

# A party id -> the name people read (None when the pack does not know it).
Namer = Callable[[str | None], str | None]


def conversation_url(
    chatwoot_base_url: str | None, account_id: int, conversation_id: int
) -> str | None:
    """The conversation's page in Chatwoot's dashboard, when Chatwoot's address is known."""
    if not chatwoot_base_url:
        return None
    return (
        f"{str(chatwoot_base_url).rstrip('/')}/app/accounts/{account_id}"
        f"/conversations/{conversation_id}"
    )


def static_summary(ticket: Ticket) -> str:
    """`VIP · Jane Doe · vip-concierge`: who and which SOP, for the workflow list."""
    parts = ["VIP"] if ticket.contact.vip else []
    parts += [
        _one_line(ticket.contact.name) or f"conversation {ticket.conversation_id}",
        ticket.policy,
    ]
    return " · ".join(parts)[:SUMMARY_MAX]


def static_details(ticket: Ticket) -> str:
    """What was known when the ticket started (fixed for the ticket's life)."""
    lines = [
        f"**Conversation** {_link(f'#{ticket.conversation_id}', ticket.conversation_url)} "
        f"· account {ticket.account_id}"
        + (f" · inbox {ticket.inbox_id}" if ticket.inbox_id else "")
    ]
    if ticket.contact.name:
        lines.append(
            f"**Contact** {_one_line(ticket.contact.name)}"
            + (" (VIP)" if ticket.contact.vip else "")
        )
    if ticket.ask_type:
        lines.append(f"**Ask type** {ticket.ask_type}")
    if ticket.labels:
        lines.append(
            "**Labels at start** " + ", ".join(f"`{_code(label)}`" for label in ticket.labels)
        )
    if ticket.created_at:
        lines.append(f"**Created in Chatwoot** {ticket.created_at.isoformat()}")
    return "\n\n".join(lines)


def handoff_start_metadata(inp: HandoffInput, summary: str) -> dict[str, str]:
    """The child workflow's `static_summary` (what the decision core called
    the start) and `static_details`: the typed payload for people, as the
    target reads it in the Web UI."""
    spec = inp.policy.handoffs.get(inp.name)
    name = _namer(inp.policy)
    lines = [
        f"**{_one_line(spec.title if spec else inp.name)}** for ticket `{inp.ticket_workflow_id}`"
        + (f" · reason {inp.reason}" if inp.reason else ""),
        f"**Started by** {_party(inp.by, name)} "
        f"at {local_time(inp.started_at, inp.policy.timezone)}",
    ]
    payload = [
        f"- {k.replace('_', ' ').capitalize()}: {_value(v)}"
        for k, v in inp.payload.items()
        if v not in (None, "", [], {})
    ]
    if payload:
        lines.append("**Payload**\n\n" + "\n".join(payload))
    return {
        "static_summary": _one_line(summary)[:SUMMARY_MAX],
        "static_details": "\n\n".join(lines),
    }


def ticket_board(
    status: TicketStatus, policy: Policy | None = None, conversation_link: str | None = None
) -> str:
    """The ticket's board: owner, stage, clocks, open handoffs, last ladder steps, links.

    No links to other workflows' pages: the Web UI renders this Markdown in a
    sandboxed frame where a relative link would open inside the frame; its
    Relationships tab and Parent Workflow link already go there."""
    tz = status.timezone or (policy.timezone if policy else "UTC")
    name = _namer(policy)
    head = [
        f"**Owner** {_party(status.owner, name)}",
        f"**Stage** {status.stage}",
        f"**SLA** {'**BREACHED**' if status.sla_state == 'breached' else status.sla_state}",
    ]
    if status.level:
        level_name = policy.levels.get(status.level, "") if policy else ""
        head.append(f"**Level** {status.level}" + (f" {level_name}" if level_name else ""))
    if status.vip:
        head.insert(0, "**VIP**")
    if status.shadow:
        head.insert(0, "**SHADOW**")
    out = [" · ".join(head)]
    if status.shadow:
        out.append(f"**Shadow mode** nothing is sent to Chatwoot or PagerDuty ({status.shadow})")
    if status.error:
        out.append(f"**Problem** {status.error}")
    if status.clocks:
        out.append(
            f"**Clocks** (times in {tz})\n\n" + "\n".join(_clock_line(c, tz) for c in status.clocks)
        )
    pages = [p for p in status.pages if p.status != "resolved"]
    if pages:
        out.append(
            "**Pages open** "
            + ", ".join(
                f"{_party(p.target, name)} {'withheld' if p.withheld else p.status} "
                f"{_short_time(p.at, tz)}"
                for p in pages
            )
        )
    open_handoffs = [h for h in status.handoffs if h.status in OPEN_HANDOFF]
    if open_handoffs:
        out.append(
            "**Open handoffs**\n\n" + "\n".join(_handoff_line(h, tz, name) for h in open_handoffs)
        )
    out += _ladder_block(status.ladder, tz)
    if conversation_link:
        out.append(
            _link(
                f"Chatwoot conversation #{conversation_link.rsplit('/', 1)[-1]}", conversation_link
            )
        )
    if status.now:
        out.append(f"_Updated {_short_time(status.now, tz)}_")
    return "\n\n".join(out)


def handoff_board(
    status: HandoffStatus, inp: HandoffInput, conversation_link: str | None = None
) -> str:
    """The handoff's board: who to whom, until when, its state and its own ladder."""
    tz, name = inp.policy.timezone, _namer(inp.policy)
    spec = inp.policy.handoffs.get(inp.name)
    title = spec.title if spec else inp.name
    state = (
        "**FAILED** (walking its on-failure steps)" if status.status == "failed" else status.status
    )
    out = [
        f"**{_one_line(title)}** · {_party(inp.by, name)} → {_party(inp.target, name)} "
        f"· **State** {state}",
        f"**Deadline** {local_time(status.deadline, tz)}"
        + (f" · **Reason** {inp.reason}" if inp.reason else ""),
        f"**Ticket** `{inp.ticket_workflow_id}` · **Owner at start** {_party(inp.owner, name)}",
    ]
    if status.pending_steps:
        out.append(f"**Steps still to come** {status.pending_steps}")
    out += _ladder_block(status.ladder, tz)
    if conversation_link:
        out.append(_link(f"Chatwoot conversation #{inp.ticket.conversation_id}", conversation_link))
    return "\n\n".join(out)


# ------------------------------------------------------------------ lines


def _clock_line(c: ClockState, tz: str) -> str:
    deadline = local_time(c.deadline, tz)
    if c.status == "breached":
        at = (
            f" (breached at {local_time(c.breached_at, tz)})"
            if c.breached_at is not None and c.breached_at != c.deadline
            else ""  # it breached at its deadline, not later when it began to run
        )
        return f"- **{_one_line(c.title)}**: **BREACHED**, deadline {deadline}{at}"
    if c.status == "running":
        return f"- **{_one_line(c.title)}**: running, deadline {deadline}"
    if c.status == "waiting":
        return f"- {_one_line(c.title)}: waiting for its condition"
    if c.status == "stopped":
        at = f" at {local_time(c.stopped_at, tz)}" if c.stopped_at else ""
        return f"- {_one_line(c.title)}: stopped{at} (deadline {deadline})"
    return f"- {_one_line(c.title)}: {c.status}"


def _handoff_line(h: HandoffState, tz: str, name: Namer) -> str:
    what = (
        "failed, on-failure steps running"
        if h.status == "failed"
        else f"open until {local_time(h.deadline, tz)}"
    )
    reason = f" ({h.reason})" if h.reason else ""
    return f"- **{_one_line(h.title)}**{reason} → {_party(h.target, name)}: {what}"


def _ladder_block(ladder: Iterable[LadderEntry], tz: str) -> list[str]:
    steps = list(ladder)[-LAST_STEPS:]
    if not steps:
        return []
    return [
        "**Last steps**\n\n"
        + "\n".join(
            f"- {_short_time(e.at, tz)} · {_one_line(e.summary)} *({_source(e.source)})*"
            for e in steps
        )
    ]


def _source(source: str) -> str:
    """`clock:first_ack`, `rule:2`, `operator`; a handoff's long id shortens to its name."""
    if source.startswith("handoff:") and ":handoff:" in source:
        return "handoff " + source.split(":handoff:", 1)[1].rsplit(":", 1)[0]
    return _one_line(source).replace("*", "")


def _short_time(t: datetime, tz: str) -> str:
    """`Tue 11-17 10:30 CST`: the zone's abbreviation tells which offset was in force."""
    return t.astimezone(zone(tz)).strftime("%a %m-%d %H:%M %Z")


def _namer(policy: Policy | None) -> Namer:
    def name(pid: str | None) -> str | None:
        party = policy.party(pid) if policy and pid else None
        return party.name if party else None

    return name


def _party(pid: str | None, name: Namer) -> str:
    if not pid:
        return "nobody"
    full = name(pid)
    return f"{full} (`{_code(pid)}`)" if full and full != pid else f"`{_code(pid)}`"


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def _one_line(text: str | None) -> str:
    """Names and summaries come from Chatwoot and packs: one line, no Markdown
    structure of their own (a `#` or `|` must not restyle the board)."""
    return " ".join((text or "").split()).replace("[", "(").replace("]", ")")


def _value(v: object) -> str:
    return ("yes" if v else "no") if isinstance(v, bool) else _one_line(str(v))


def _code(text: str) -> str:
    return text.replace("`", "'")
