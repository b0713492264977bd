"""Read a policy pack (YAML), validate it and cross-check its references.

Errors name the file, the field path and what is wrong, all at once:
    policies/vip-concierge.yaml: clocks.first_ack.on_breach.0.target: unknown party 'lolla'
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.conditions import check_condition
from engine.templates import check_template
from engine.yaml_loader import load_yaml
from models.policy import Policy, Step

SPECIAL_TARGETS = {
    "owner",
    "backup",
    "backup2",
    "handoff_target",
    "previous_owner",
    "secondary",
    "coverage",
}


class PolicyError(ValueError):
    """A policy pack is missing or invalid; the message says where and why."""


def policy_path(directory: Path, name: str) -> Path:
    return Path(directory) / f"{name}.yaml"


def available(directory: Path) -> list[str]:
    return sorted(p.stem for p in Path(directory).glob("*.yaml"))


def load_policy(name: str, directory: Path, *, shared: bool = False) -> Policy:
    """Load `directory/name.yaml`; PolicyError if unknown or invalid.
    `shared=True` returns the cached object itself (read-only use)."""
    if not name or "/" in name or name.startswith("."):
        raise PolicyError(f"invalid policy name {name!r}")
    path = policy_path(directory, name)
    if not path.exists():
        raise PolicyError(
            f"unknown policy {name!r}; available: {', '.join(available(directory)) or 'none'}"
        )
    return load_policy_file(path, shared=shared)


# Parsed, validated packs by (path, sha256 of the file's bytes): a worker
# loads the pack on every ticket start, and parsing + validating + cross-
# checking it cost tens of ms of CPU each time. An edited file has another
# hash, so it is parsed afresh; bounded so edits cannot grow it for ever.
_PARSED: OrderedDict[tuple[str, str], Policy] = OrderedDict()
_PARSED_MAX = 64


def load_policy_file(path: Path, *, shared: bool = False) -> Policy:
    """The pack at `path`, parsed and validated once per content. A deep
    copy, unless `shared=True`: then the cached object itself, which the
    caller must not change (the policy activity only serializes it)."""
    raw = Path(path).read_bytes()
    key = (str(path), hashlib.sha256(raw).hexdigest())
    cached = _PARSED.get(key)
    if cached is not None:
        _PARSED.move_to_end(key)
        return cached if shared else cached.model_copy(deep=True)
    try:
        data = load_yaml(raw.decode("utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8 text: {exc}") from None
    policy = parse_policy(data, source=str(path))
    _PARSED[key] = policy
    while len(_PARSED) > _PARSED_MAX:
        _PARSED.popitem(last=False)
    return policy if shared else policy.model_copy(deep=True)


def parse_policy(data: Any, source: str = "<policy>") -> Policy:
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: a policy pack must be a mapping")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as err:
        lines = [
            f"{source}: {'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in err.errors()
        ]
        raise PolicyError("\n".join(lines)) from None
    problems = list(cross_check(policy))
    if problems:
        raise PolicyError("\n".join(f"{source}: {where}: {what}" for where, what in problems))
    return policy


# A problem found by `cross_check`: (where in the pack, what is wrong).
Problem = tuple[str, str]


def cross_check(p: Policy) -> Iterator[Problem]:
    parties = p.party_ids
    overlap = set(p.people) & set(p.teams)
    for pid in sorted(overlap):
        yield f"teams.{pid}", "id used for both a person and a team"

    def party(where: str, pid: str | None, special: bool = False) -> Iterator[Problem]:
        if pid is None:
            return
        if pid not in parties and not (special and pid in SPECIAL_TARGETS):
            yield where, f"unknown party {pid!r}"

    def calendar(where: str, name: str | None) -> Iterator[Problem]:
        if name is not None and name not in p.calendars:
            yield where, f"unknown calendar {name!r}"

    def template_ref(where: str, name: str | None) -> Iterator[Problem]:
        if name is not None and name not in p.templates:
            yield where, f"unknown template {name!r}"

    def steps(where: str, items: list[Step]) -> Iterator[Problem]:
        for i, s in enumerate(items):
            w = f"{where}.{i}"
            yield from party(f"{w}.target", s.target, special=True)
            yield from template_ref(f"{w}.template", s.template)
            if s.handoff is not None and s.handoff not in p.handoffs:
                yield f"{w}.handoff", f"unknown handoff {s.handoff!r}"
            for attr in ("label", "reason", "summary"):
                value = getattr(s, attr)
                if value is not None:
                    try:
                        check_template(value)
                    except ValueError as exc:
                        yield f"{w}.{attr}", str(exc)
            for key, value in s.fields.items():
                if isinstance(value, str):
                    try:
                        check_template(value)
                    except ValueError as exc:
                        yield f"{w}.fields.{key}", str(exc)
            try:
                check_condition(s.when)
            except ValueError as exc:
                yield f"{w}.when", str(exc)

    for pid, party_spec in {**p.people, **p.teams}.items():
        kind = "people" if pid in p.people else "teams"
        yield from party(f"{kind}.{pid}.backup", party_spec.backup)
        yield from calendar(f"{kind}.{pid}.calendar", party_spec.calendar)
    for i, rule in enumerate(p.coverage):
        yield from party(f"coverage.{i}.owner", rule.owner)
        yield from calendar(f"coverage.{i}.calendar", rule.calendar)
    if not p.coverage or any(r.when or r.calendar for r in p.coverage[-1:]):
        yield (
            "coverage",
            "the last coverage rule must have no condition and no calendar (the fallback owner)",
        )
    for name, clock in p.clocks.items():
        yield from calendar(f"clocks.{name}.calendar", clock.calendar)
        yield from steps(f"clocks.{name}.on_breach", clock.on_breach)
        if clock.repeat and clock.duration.total_seconds() <= 0:
            yield f"clocks.{name}.duration", "a repeating clock needs a positive duration"
    for i, rule_spec in enumerate(p.rules):
        yield from steps(f"rules.{i}.do", rule_spec.do)
    for name, h in p.handoffs.items():
        yield from party(f"handoffs.{name}.from", h.from_)
        for j, t in enumerate(h.to):
            yield from party(f"handoffs.{name}.to.{j}", t)
        yield from party(f"handoffs.{name}.secondary", h.secondary)
        yield from calendar(f"handoffs.{name}.calendar", h.calendar)
        yield from steps(f"handoffs.{name}.on_start", h.on_start)
        yield from steps(f"handoffs.{name}.on_failure", h.on_failure)
        yield from steps(f"handoffs.{name}.on_success", h.on_success)
    for reason, route in p.escalations.items():
        yield from party(f"escalations.{reason}.target", route.target)
        if route.handoff not in p.handoffs:
            yield f"escalations.{reason}.handoff", f"unknown handoff {route.handoff!r}"
        elif route.target not in p.handoffs[route.handoff].to:
            yield (
                f"escalations.{reason}.target",
                f"{route.target!r} is not a 'to' of handoff {route.handoff!r}",
            )
    for dim_name, dim in p.classification.items():
        if dim.default is not None and dim.default not in dim.values:
            yield f"classification.{dim_name}.default", f"{dim.default!r} is not one of its values"
    for name, text in p.templates.items():
        try:
            check_template(text)
        except ValueError as exc:
            yield f"templates.{name}", str(exc)
    for where, cond in [("silent_when", p.silent_when)] + [
        (f"coverage.{i}.when", r.when) for i, r in enumerate(p.coverage)
    ]:
        try:
            check_condition(cond)
        except ValueError as exc:
            yield where, str(exc)
