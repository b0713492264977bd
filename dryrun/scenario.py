"""Scenario files for `ticketflow simulate`: a ticket, a list of timed
events and how far to run the clock. Errors name the file and line.

```yaml
policy: vip-concierge
start: 2026-11-17T10:00:00-06:00      # when the ticket starts (the workflow's clock)
ticket:
  # optional: when Chatwoot created the conversation (default: start)
  created: -90d
  conversation_id: 101
  contact: {name: Dana Whitfield, email: dana@example.com, vip: true}
  labels: []
  ask_type: null
events:
  - {at: +20m, signal: agent_replied, by: alicia, substantive: false}
until: +3d
```
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.yaml_loader import PackLoader
from models.durations import parse_duration
from models.handoff import HandoffResponse
from models.policy import Policy
from models.signals import (
    Acknowledged,
    AgentReplied,
    Classify,
    CustomerReplied,
    Escalate,
    Reassign,
    Reopened,
    Resolved,
    StatusChanged,
    VipFlagChanged,
)
from models.ticket import Contact

# scenario signal -> the fields it takes (besides at/signal/via)
SIGNALS: dict[str, set[str]] = {
    "acknowledged": {"by"},
    "agent_replied": {"by", "substantive"},
    "customer_replied": set(),
    "resolved": {"by", "resolution"},
    "reopened": {"by"},
    "escalate": {"by", "target", "reason", "payload"},
    "reassign": {"to", "by"},
    "classify": {"ask_type", "labels", "custom_attributes", "by"},
    "vip_flag_changed": {"vip", "by", "why"},
    "status_changed": {"status", "by"},
    "handoff_acknowledged": {"by", "handoff"},
    "handoff_decision": {"by", "decision", "founder_action", "handoff"},
    "handoff_failed": {"by", "handoff"},
}
# scenario signal -> the model its fields must fit (checked at load time, with the line)
SIGNAL_MODELS: dict[str, type[BaseModel]] = {
    "acknowledged": Acknowledged,
    "agent_replied": AgentReplied,
    "customer_replied": CustomerReplied,
    "resolved": Resolved,
    "reopened": Reopened,
    "escalate": Escalate,
    "reassign": Reassign,
    "classify": Classify,
    "vip_flag_changed": VipFlagChanged,
    "status_changed": StatusChanged,
    "handoff_acknowledged": HandoffResponse,
    "handoff_decision": HandoffResponse,
    "handoff_failed": HandoffResponse,
}
UPDATABLE = {"acknowledged", "resolved", "reopened", "escalate", "reassign", "handoff_decision"}
PEOPLE_FIELDS = ("by", "target", "to")


class ScenarioError(ValueError):
    pass


class ScenarioTicket(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: int = 1
    conversation_id: int = 101
    inbox_id: int | None = None
    contact: Contact = Field(default_factory=Contact)
    labels: list[str] = Field(default_factory=list)
    custom_attributes: dict[str, Any] = Field(default_factory=dict)
    ask_type: str | None = None
    created: Any = None  # when Chatwoot created the conversation: an instant or an offset like -90d


class ScenarioEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    at: datetime
    signal: str
    via: Literal["signal", "update"] = "signal"
    line: int = 0
    fields: dict[str, Any] = Field(default_factory=dict)


class Scenario(BaseModel):
    name: str
    policy: str
    start: datetime
    ticket: ScenarioTicket
    events: list[ScenarioEvent]
    until: datetime
    created_at: datetime | None = None  # the conversation's creation, when before `start`


class _LineLoader(PackLoader):
    """Records the line of every mapping (1-based) under `__line__`, and of
    each of its values under `__lines__`. Timestamps stay text, so a bad
    one (`2026-11-31T10:00:00`) is reported with its line, not as a
    traceback from the YAML parser."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        mapping["__lines__"] = {
            getattr(k, "value", None): v.start_mark.line + 1 for k, v in node.value
        }
        return mapping


def _timestamp_text(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    return loader.construct_scalar(node)


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_text)


def _instant(value: Any, start: datetime, where: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ScenarioError(f"{where}: instant {value} needs a UTC offset")
        return value
    if isinstance(value, str) and value.strip()[:1] in ("+", "-"):
        try:
            delta = parse_duration(value.strip()[1:])
        except ValueError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        return start + delta if value.strip()[0] == "+" else start - delta
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ScenarioError(
                f"{where}: expected an offset like +20m or an ISO 8601 instant such as "
                f"2026-11-17T10:00:00-06:00, got {value!r} ({exc})"
            ) from None
        return _instant(parsed, start, where)
    raise ScenarioError(
        f"{where}: expected an offset like +20m or an ISO 8601 instant, got {value!r}"
    )


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k not in ("__line__", "__lines__")}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def load_scenario(path: Path, policy_lookup=None) -> Scenario:
    """Parse and check a scenario. `policy_lookup(name) -> Policy` lets it
    check people and ask types against the pack."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario must be a mapping")
    lines = raw.get("__lines__", {})

    def at_line(key: str) -> str:
        return f"{path}:{lines.get(key, 1)}"

    for key in ("policy", "start", "events", "until"):
        if key not in raw:
            raise ScenarioError(f"{path}:1: missing '{key}'")
    unknown_top = set(raw) - {
        "policy",
        "start",
        "ticket",
        "events",
        "until",
        "name",
        "description",
        "__line__",
        "__lines__",
    }
    if unknown_top:
        raise ScenarioError(f"{path}:1: unknown field(s) {sorted(unknown_top)}")
    start = _instant(raw["start"], datetime.now().astimezone(), f"{at_line('start')}: start")
    raw_ticket = raw.get("ticket") or {}
    if not isinstance(raw_ticket, dict):
        raise ScenarioError(f"{at_line('ticket')}: ticket must be a mapping")
    try:
        ticket = ScenarioTicket.model_validate(_strip_lines(raw_ticket))
    except ValidationError as err:
        e = err.errors()[0]
        line = (
            raw_ticket.get("__lines__", {}).get(e["loc"][0], lines.get("ticket", 1))
            if e["loc"]
            else 1
        )
        raise ScenarioError(
            f"{path}:{line}: ticket.{'.'.join(map(str, e['loc']))}: {e['msg']}"
        ) from None
    created_at = None
    if ticket.created is not None:
        line = raw_ticket.get("__lines__", {}).get("created", lines.get("ticket", 1))
        created_at = _instant(ticket.created, start, f"{path}:{line}: ticket.created")
        if created_at > start:
            raise ScenarioError(f"{path}:{line}: ticket.created is after start")
    policy: Policy | None = None
    if policy_lookup:
        try:
            policy = policy_lookup(raw["policy"])
        except Exception as exc:
            raise ScenarioError(f"{at_line('policy')}: policy {raw['policy']!r}: {exc}") from None
    events = []
    for item in raw.get("events") or []:
        line = item.get("__line__", 0) if isinstance(item, dict) else 0
        where = f"{path}:{line}"
        if not isinstance(item, dict) or "signal" not in item or "at" not in item:
            raise ScenarioError(f"{where}: every event needs 'at' and 'signal'")
        name = item["signal"]
        if name not in SIGNALS:
            raise ScenarioError(
                f"{where}: unknown signal {name!r}; known: {', '.join(sorted(SIGNALS))}"
            )
        fields = {
            k: _strip_lines(v)
            for k, v in item.items()
            if k not in ("at", "signal", "via", "__line__", "__lines__")
        }
        unknown = set(fields) - SIGNALS[name]
        if unknown:
            raise ScenarioError(
                f"{where}: {name} does not take field(s) {sorted(unknown)}; "
                f"it takes {sorted(SIGNALS[name]) or 'none'}"
            )
        via = item.get("via", "signal")
        if via not in ("signal", "update"):
            raise ScenarioError(f"{where}: via must be signal or update, got {via!r}")
        if via == "update" and name not in UPDATABLE:
            raise ScenarioError(f"{where}: {name} cannot be sent as an update")
        try:
            SIGNAL_MODELS[name].model_validate(fields)
        except ValidationError as err:
            e = err.errors()[0]
            raise ScenarioError(
                f"{where}: {name}.{'.'.join(map(str, e['loc']))}: {e['msg']}"
            ) from None
        if policy is not None:
            for f in PEOPLE_FIELDS:
                if f in fields and fields[f] not in policy.party_ids:
                    raise ScenarioError(
                        f"{where}: unknown person {fields[f]!r} in '{f}'; the pack knows "
                        f"{', '.join(sorted(policy.party_ids))}"
                    )
        events.append(
            ScenarioEvent(
                at=_instant(item["at"], start, where),
                signal=name,
                via=via,
                line=line,
                fields=fields,
            )
        )
    if policy is not None and ticket.ask_type is not None:
        dim = policy.classification.get("ask_type")
        if dim is None or ticket.ask_type not in dim.values:
            raise ScenarioError(f"{path}: ticket.ask_type: unknown ask type {ticket.ask_type!r}")
    events.sort(key=lambda e: e.at)
    until = _instant(raw["until"], start, f"{at_line('until')}: until")
    if events and events[0].at < start:
        raise ScenarioError(f"{path}:{events[0].line}: event before the scenario's start")
    if until < start:
        raise ScenarioError(f"{at_line('until')}: until is before start")
    return Scenario(
        name=str(raw.get("name") or path.stem),
        policy=raw["policy"],
        start=start,
        ticket=ticket,
        events=events,
        until=until,
        created_at=created_at,
    )
