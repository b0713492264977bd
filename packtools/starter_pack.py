"""The starter pack `ticketflow pack new NAME` writes.

A team that brings its own SOP starts from a small pack that already
passes `ticketflow pack check` and loads, with a comment on every part
saying what it does and what to change, rather than from a copy of a
shipped pack full of another team's choices. tests/test_pack_check.py
checks that it stays clean.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from packtools.schema import MODELINE

NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

# The pack's text exactly as `pack new` writes it (its comments aligned on one
# column), so a few of its lines are longer than the code's limit.
_TEMPLATE = """\
__MODELINE__
# __NAME__: a starter policy pack. Change every part to say what your SOP says,
# then run `ticketflow pack check __FILE__` (every mistake, with its line).
name: __NAME__
version: "1"                     # quoted; raise it when you change the pack
description: >
  First response within 1 hour (business hours); the lead is paged when it is missed.
timezone: Europe/London          # how timelines are shown (an IANA zone)

calendars:
  office:                        # business hours: clocks and coverage may count only these
    timezone: Europe/London
    weekly: {mon-fri: ["09:00-17:30"]}   # quote times; ranges like mon-fri are fine
    holidays: [2026-12-25, 2026-12-28]

people:                          # ids are what steps, coverage and handoffs name
  lead: {name: Support lead, chatwoot_agent_id: 1, pagerduty: lead}
teams:
  desk: {name: Support desk, kind: team, chatwoot_team_id: 1, backup: lead, calendar: office}

coverage:                        # who owns a new ticket: the first match; the last one has no condition
  - {owner: lead, when: {priority: urgent}}
  - {owner: desk}

classification:                  # sets facts from a Chatwoot attribute or a label `priority:<value>`
  priority:
    attribute: priority
    label_prefix: "priority:"
    default: normal
    values:
      urgent: {facts: {timeframe: 1 hour}}
      normal: {facts: {timeframe: 1 business day}}

clocks:
  first_response:
    title: First response 1h     # one title per clock: people tell breaches apart by it
    starts_on: [ticket_opened]
    stops_on: [agent_replied, resolved]
    duration: 1h                 # 30m, 4h, 1h30m, 2d
    calendar: office             # count business hours only
    customer_facing: true
    on_breach:                   # the ladder: each step `after` the breach
      - {do: note, template: response_late}
      - {do: page, target: lead, after: 30m, summary: "Ticket #{short_id}: no first response"}

escalations:                     # reason -> who, through which handoff
  needs_lead: {target: lead, handoff: to_lead}

handoffs:
  to_lead:
    title: Desk → lead
    to: [lead]
    reason_field: reason
    payload:
      reason: {type: enum, values: [needs_lead]}
      summary: {type: text}
    timeout: 2h
    on_start:
      - {do: note, template: handoff_brief, target: handoff_target}
    on_failure:
      - {do: page, target: lead, summary: "Handoff to the lead unanswered"}

rules:
  - on: ticket_opened
    do:
      - {do: message, template: acknowledgement}
  - on: resolved
    do:
      - {do: message, template: resolved}

templates:                       # placeholders: see engine/templates.py FIELDS
  acknowledgement: >-
    Hi {first_name}, thanks for writing (ticket #{short_id}). We will answer within {timeframe}.
  response_late: >-
    Ticket #{short_id} ({priority}) has had no first response within {timeframe}.
  handoff_brief: |-
    {handoff_title}: please pick this up within {timeframe} (from {by}).
    {payload}
  resolved: >-
    Hi {first_name}, we believe ticket #{short_id} is resolved. Reply here if anything is still wrong.
"""  # noqa: E501


def starter_pack(name: str, modeline: str = MODELINE, file_name: str | None = None) -> str:
    """The starter pack's text. `name` must be a lowercase slug."""
    if not NAME.match(name):
        raise ValueError(
            f"{name!r} is not a pack name: use a lowercase slug (letters, digits, - and _)"
        )
    return (
        _TEMPLATE.replace("__MODELINE__", modeline)
        .replace("__NAME__", name)
        .replace("__FILE__", file_name or f"policies/{name}.yaml")
    )


def modeline_for(pack: Path, schema: Path) -> str:
    """The first line that points an editor at `schema` from a pack at `pack`."""
    rel = Path(os.path.relpath(Path(schema).resolve(), Path(pack).resolve().parent)).as_posix()
    return f"# yaml-language-server: $schema={rel if rel.startswith('.') else './' + rel}"
