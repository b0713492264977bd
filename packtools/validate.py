"""Pydantic's verdict on a pack, every error at once, and what is left.

`Policy.model_validate` names each error by its `loc`; here each becomes a
`Problem` with a plain message and a hint (the field or value that was
probably meant). Then, so the pack's other checks still run when pydantic
fails, what failed is cut out of a copy of the data (an unknown key, a bad
list item, a clock without its required field) and the rest validated
again, until a `Policy` is left. Items cut from lists shift the ones after
them, so the copy remembers where each item came from and every later path
is translated back to the pack as written; checks do not report on what
was cut (pydantic already has).
"""

from __future__ import annotations

import copy
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from models.policy import Policy
from packtools.locate import weekday_key
from packtools.problems import Loc, Problem, did_you_mean

_CUT = object()  # a list item marked for removal
# Top-level fields a pack cannot do without: cut, they get a stand-in (their error is reported).
_STAND_INS: dict[str, Any] = {"name": "pack", "version": "0", "timezone": "UTC", "coverage": []}
_MAX_ROUNDS = 40


@dataclass
class Validated:
    policy: Policy | None
    problems: list[Problem]
    pruned: list[Loc] = field(default_factory=list)  # where data was cut, as written in the pack
    _work: Any = None
    _origins: dict[int, list[int]] = field(default_factory=dict)

    def original(self, loc: Loc) -> Loc:
        """A path in the validated (cut) data, as a path in the pack."""
        return _translate(self._work, loc, self._origins)

    def was_cut(self, loc: Loc, *, within: bool = False) -> bool:
        """Whether `loc` (or, `within`, anything under it) was cut."""
        return any(loc[: len(p)] == p or (within and p[: len(loc)] == loc) for p in self.pruned)


def validate(data: dict) -> Validated:
    work = copy.deepcopy(data)
    origins: dict[int, list[int]] = {}
    result = Validated(None, [], _work=work, _origins=origins)
    for round_ in range(_MAX_ROUNDS):
        try:
            result.policy = Policy.model_validate(work)
            return result
        except ValidationError as err:
            errors = err.errors(include_url=False)
        cuts: list[Loc] = []
        for e in errors:
            found = _found(work, e["loc"])
            where = _translate(work, found, origins)
            if round_ == 0 or not any(where == p[: len(where)] for p in result.pruned):
                result.problems.append(_problem(e, where))
            cuts.append(found)
        changed = False
        for found in cuts:
            if _cut(work, found, origins, result):
                changed = True
        _sweep(work, origins)
        if not changed:
            break
    return result


def _found(data: Any, loc: tuple) -> Loc:
    """The part of a pydantic `loc` that is in the data (tags and missing keys dropped)."""
    out: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict):
            key = (
                part
                if part in node
                else weekday_key(list(node), str(part))
                if isinstance(part, str)
                else None
            )
            if key is None or key not in node:
                continue
            out.append(key)
            node = node[key]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
    return tuple(out)


def _translate(data: Any, loc: Loc, origins: dict[int, list[int]]) -> Loc:
    out: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(origins.get(id(node), range(len(node)))[part])
            node = node[part]
            continue
        if isinstance(node, dict) and part not in node and isinstance(part, str):
            part = weekday_key(list(node), part) or part
        out.append(part)
        node = node.get(part) if isinstance(node, dict) else None
    return tuple(out)


def _cut(work: Any, loc: Loc, origins: dict[int, list[int]], result: Validated) -> bool:
    if not loc:
        return False
    parent = work
    try:
        for part in loc[:-1]:
            parent = parent[part]
    except (KeyError, IndexError, TypeError):
        return False  # inside something this round already cut
    last = loc[-1]
    where = _translate(work, loc, origins)
    if len(loc) == 1 and last in _STAND_INS:
        if work.get(last) == _STAND_INS[last]:
            return False
        work[last] = copy.deepcopy(_STAND_INS[last])
    elif isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and parent[last] is not _CUT:
        parent[last] = _CUT
    else:
        return False
    result.pruned.append(where)
    return True


def _sweep(node: Any, origins: dict[int, list[int]], seen: set[int] | None = None) -> None:
    seen = set() if seen is None else seen
    if id(node) in seen or not isinstance(node, (dict, list)):
        return
    seen.add(id(node))
    if isinstance(node, list) and any(item is _CUT for item in node):
        before = origins.get(id(node), list(range(len(node))))
        # One origin per item; an entry left by a freed list whose id was reused
        # may differ in length, so this pairs up to the shorter of the two.
        origins[id(node)] = [o for o, item in zip(before, node, strict=False) if item is not _CUT]
        node[:] = [item for item in node if item is not _CUT]
    for child in node.values() if isinstance(node, dict) else node:
        _sweep(child, origins, seen)


# ------------------------------------------------------------------ messages


def _problem(e: ErrorDetails, where: Loc) -> Problem:
    kind, msg, value = e["type"], e["msg"], e.get("input")
    last = next((p for p in reversed(e["loc"]) if isinstance(p, str) and p != "[key]"), None)
    if kind == "extra_forbidden":
        allowed = fields_at(e["loc"][:-1])
        return Problem(
            where,
            f"unknown field {e['loc'][-1]!r}",
            did_you_mean(e["loc"][-1], allowed, "fields"),
            kind="unknown-field",
            at_key=True,
        )
    if kind == "missing":
        return Problem(
            where,
            f"missing required field {e['loc'][-1]!r}",
            f"add `{e['loc'][-1]}:` here (see policies/pack.schema.json)",
            kind="missing-field",
            at_key=True,
        )
    if kind in ("literal_error", "enum"):
        allowed = re.findall(r"'([^']*)'", str(e.get("ctx", {}).get("expected", "")))
        return Problem(
            where,
            f"{value!r} is not allowed here",
            did_you_mean(value, allowed, "values"),
            kind="bad-value",
        )
    msg = msg.removeprefix("Value error, ")
    if kind not in ("value_error", "assertion_error") and not isinstance(value, (dict, list)):
        msg = f"{msg} (got {value!r})"
    return Problem(where, msg, _hint(msg, last), kind="bad-value")


def _hint(msg: str, field_name: str | None) -> str:
    text = msg.lower()
    if "duration" in text:
        return "write durations like 30m, 4h, 1h30m or 2d"
    if "time zone" in text:
        return "use an IANA zone name such as Europe/London or America/Chicago"
    if "time" in text or "hh:mm" in text:
        return 'write times as quoted "HH:MM" (24:00 for midnight at the end of a day)'
    if "date" in text:
        return "write dates as YYYY-MM-DD"
    if "weekday" in text:
        return "use mon..sun or ranges like mon-fri"
    if "slug" in text:
        return "lowercase letters, digits, - and _ (e.g. my-team-sop)"
    if "needs" in text:
        return "see policies/pack.schema.json for what each kind of step needs"
    return f"see `{field_name}` in policies/pack.schema.json" if field_name else ""


def fields_at(loc: tuple, model: type[BaseModel] = Policy) -> list[str]:
    """The field names (aliases) a model at this `loc` accepts: for "did you mean"."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = next(
                (f for n, f in current.model_fields.items() if (f.alias or n) == part), None
            )
            if info is None:
                continue
            current = info.annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
            if len(args) != 1:
                return tp
        else:
            return tp
