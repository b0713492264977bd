"""`ticketflow pack check`: every mistake of a pack in one run, with its line.

Reads a pack the way the loader does, then reports, each as
`file:line:col: message` and a hint: what pydantic rejects (all of it,
`packtools.validate`), what the loader's cross-check rejects, and the
mistakes that load but do not work (`packtools.references`,
`packtools.structure`). Problems found at one place through a shared
anchor are reported once. Exit status: 0 clean, 1 problems, 2 a file that
cannot be read as YAML at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from engine.policy_loader import (
    cross_check,
)  # the loader's own reference checks, so a clean pack loads
from packtools.channels import check_channels
from packtools.locate import PackDocument, Position, yaml_error_position
from packtools.problems import Problem, dotted
from packtools.references import Names, check_references
from packtools.structure import check_structure
from packtools.validate import validate

EXIT_OK, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")
_UNKNOWN_NAME = re.compile(r"^unknown (party|calendar|template|handoff) '(.+)'$")


@dataclass
class Located:
    file: str
    position: Position
    message: str
    hint: str = ""
    kind: str = "invalid"
    paths: list[str] = field(default_factory=list)

    def format(self) -> str:
        head = f"{self.file}:{self.position.line}:{self.position.column}: {self.message}"
        return head + (f"\n    hint: {self.hint}" if self.hint else "")


@dataclass
class Report:
    file: str
    problems: list[Located] = field(default_factory=list)
    unreadable: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_UNREADABLE if self.unreadable else EXIT_PROBLEMS if self.problems else EXIT_OK


def check_file(path: Path | str, configured: frozenset[str] | None = None) -> Report:
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return _unreadable(name, Position(1, 1), f"cannot read the file: {exc.strerror or exc}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        return _unreadable(
            name,
            Position(line, exc.start - before.rfind(b"\n")),
            f"not UTF-8 text: {exc.reason}",
            "save the pack as UTF-8",
        )
    return check_text(text, name, configured)


def check_text(text: str, name: str = "<pack>", configured: frozenset[str] | None = None) -> Report:
    """Every problem of a pack's text. `configured`: the channels (`slack`, `email`) this
    deployment can reach, when the caller knows them (packtools/channels.py)."""
    try:
        doc = PackDocument(text)
    except yaml.YAMLError as exc:
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        return _unreadable(
            name,
            yaml_error_position(exc),
            f"not valid YAML: {what}" + (f" ({context})" if context else ""),
            "fix the YAML syntax first: indentation, a missing ':' or an unclosed quote or bracket",
        )
    if not isinstance(doc.data, dict):
        return Report(
            name,
            [
                Located(
                    name,
                    Position(1, 1),
                    "a policy pack must be a mapping (name:, version:, ...)",
                    "start from `ticketflow pack new NAME`",
                    "not-a-mapping",
                )
            ],
        )
    problems = list(_yaml_traps(doc))
    checked = validate(doc.data)
    problems += checked.problems
    if checked.policy is not None:
        names = Names.of(doc.data)
        ours: list[Problem] = []
        for problem in (
            *check_references(checked.policy, names),
            *check_channels(checked.policy, configured),
            *check_structure(
                checked.policy, lambda loc: doc.position(checked.original(loc), key=True).line
            ),
        ):
            problem.loc = checked.original(problem.loc)
            if not checked.was_cut(problem.loc, within=problem.whole):
                ours.append(problem)
        problems += ours
        problems += _loader_problems(checked, names, {p.loc for p in ours})
    return Report(name, _locate(name, doc, problems))


def _unreadable(name: str, position: Position, message: str, hint: str = "") -> Report:
    return Report(name, [Located(name, position, message, hint, "unreadable")], unreadable=True)


def _yaml_traps(doc: PackDocument) -> Iterable[Problem]:
    """A key written twice (YAML keeps the last, silently); `cutoff: 14:30`
    unquoted, the number 870 to PyYAML (YAML 1.1 base 60), which pydantic
    reads as 00:14:30: no error, a wrong time."""
    for loc, first in doc.duplicate_keys:
        yield Problem(
            loc,
            f"{loc[-1]!r} is written twice in this mapping (first on line {first}): the loader "
            "keeps only this one and silently drops the first",
            "merge the two into one",
            kind="duplicate-key",
            at_key=True,
        )
    for loc, node in doc.scalars():
        if (
            node.style is None
            and node.tag.endswith((":int", ":float"))
            and _SEXAGESIMAL.match(node.value)
        ):
            yield Problem(
                loc,
                f"{node.value} unquoted is the number {_base60(node.value)} to the loader "
                "(YAML 1.1 reads it in base 60)",
                f'quote it: "{node.value}"',
                kind="unquoted-time",
            )


def _base60(text: str) -> str:
    total = 0.0
    for part in text.lstrip("+-").replace("_", "").split(":"):
        total = total * 60 + float(part)
    return f"{total:g}"


def _loader_problems(checked, names: Names, seen: set) -> Iterable[Problem]:
    """What `engine.policy_loader` would still refuse, where the checks above said nothing."""
    for where, what in cross_check(checked.policy):
        loc = tuple(int(p) if p.isdigit() else p for p in where.split("."))
        loc = checked.original(loc)
        match = _UNKNOWN_NAME.match(what)
        if (
            loc in seen
            or checked.was_cut(loc)
            or (match and match.group(2) in _names_of(names, match.group(1)))
        ):
            continue
        if match:  # the checks above report unknown names with a hint; this one they missed
            yield Problem(loc, what, kind=f"unknown-{match.group(1)}")
        else:
            yield Problem(loc, what, "the policy loader refuses this", kind="loader")


def _names_of(names: Names, kind: str) -> frozenset[str]:
    return {
        "party": names.parties,
        "calendar": names.calendars,
        "template": names.templates,
        "handoff": names.handoffs,
    }[kind]


def _locate(name: str, doc: PackDocument, problems: list[Problem]) -> list[Located]:
    out: dict[tuple[Position, str], Located] = {}
    for p in problems:
        position = (
            doc.text_position(p.loc, p.needle) if p.needle else doc.position(p.loc, key=p.at_key)
        )
        key = (position, p.message)
        if key in out:
            if dotted(p.loc) not in out[key].paths:
                out[key].paths.append(dotted(p.loc))
            continue
        out[key] = Located(name, position, p.message, p.hint, p.kind, [dotted(p.loc)])
    for located in out.values():
        if (
            len(located.paths) > 1
        ):  # one mistake in a shared anchor, seen from each place that uses it
            located.message += f" (shared by {', '.join(located.paths)})"
    return sorted(out.values(), key=lambda x: (x.position, x.message))


def check_files(
    paths: Iterable[Path | str], configured: frozenset[str] | None = None
) -> tuple[list[Report], int]:
    reports = [check_file(p, configured) for p in paths]
    return reports, max((r.exit_code for r in reports), default=EXIT_OK)
