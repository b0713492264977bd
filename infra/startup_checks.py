"""Checks `ticketflow worker`, `bridge`, `setup` and `dev` run before they start.

A ticket loads its pack once, when it starts; a pack that is missing or does
not load parks the ticket in the `policy_error` stage until someone resolves
it (workflows/ticket.py). A mistake in `DEFAULT_POLICY`, `INBOX_POLICIES` or
a pack they name would park *every* new ticket of those inboxes, so the
processes check every pack the settings name first and refuse to start,
naming the setting, the pack and its first problem (at `file:line:col`, as
`ticketflow pack check` reports it).

The refusal follows the loader the worker uses (`engine.policy_loader`):
what it refuses is what would park tickets. What `pack check` reports about
a pack that does load (a clock started by an event nothing sends, a holiday
on a closed day: a pack that runs, perhaps not as meant) is returned as a
warning to log instead: refusing to start over it would stop every inbox
for a doubt about one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import structlog

from engine.policy_loader import PolicyError, available, load_policy_file, policy_path
from infra.settings import Settings, SettingsError
from packtools.check import Located, check_file

log = structlog.get_logger("ticketflow.startup")


@dataclass(frozen=True)
class PackProblem:
    """One pack the settings name, and what is wrong with it."""

    pack: str
    named_by: tuple[str, ...]  # "DEFAULT_POLICY", "INBOX_POLICIES (inbox 3)", ...
    problem: str  # the first problem, at file:line:col when the checker can place it
    more: int = 0  # further problems the checker found
    path: Path | None = None

    def format(self) -> str:
        head = f"{', '.join(self.named_by)}: pack {self.pack!r} {self.problem}"
        if self.more and self.path is not None:
            head += (
                f"\n      ({self.more} more problem{'s' * (self.more != 1)}: "
                f"`ticketflow pack check {self.path}` lists them all)"
            )
        return head


@dataclass
class PackCheck:
    """Every pack the settings name loads. `versions`: each pack's `version`,
    for the start-up log; `warnings`: what `pack check` says about them."""

    versions: dict[str, str] = field(default_factory=dict)
    warnings: list[PackProblem] = field(default_factory=list)


class PackMappingError(SettingsError):
    """A pack the settings name is missing or does not load; the message says
    which setting names it, which pack, and its first problem."""

    def __init__(self, problems: list[PackProblem]) -> None:
        self.problems = problems
        lines = [
            "refusing to start: a policy pack the settings name cannot be loaded "
            "(every new ticket it would run would wait in the policy_error stage):"
        ]
        lines += [f"  {p.format()}" for p in problems]
        lines.append(
            "Fix the pack (`ticketflow pack check` shows every mistake), or name another pack "
            "in the setting."
        )
        super().__init__("\n".join(lines))


def pack_uses(settings: Settings) -> dict[str, list[str]]:
    """Each pack the settings name, with the settings that name it:
    `DEFAULT_POLICY`, `INBOX_POLICIES (inbox 3)`, `INBOX_POLICIES (inboxes 3, 5)`."""
    inboxes: dict[str, list[int]] = {}
    for inbox, pack in sorted(settings.inbox_policies.items()):
        inboxes.setdefault(pack, []).append(inbox)
    uses: dict[str, list[str]] = {settings.default_policy: ["DEFAULT_POLICY"]}
    for pack, ids in inboxes.items():
        which = f"inbox {ids[0]}" if len(ids) == 1 else f"inboxes {', '.join(map(str, ids))}"
        uses.setdefault(pack, []).append(f"INBOX_POLICIES ({which})")
    return uses


def check_packs_at_start(settings: Settings, channels: frozenset[str] | None = None) -> None:
    """`check_packs`, logging its warnings and the version of each pack new
    tickets will load; PackMappingError (a SettingsError) when one fails.
    `channels`: the Slack and e-mail channels there will be (`ticketflow dev`
    brings stand-ins for those unset); default: those the settings configure."""
    checked = check_packs(settings, channels)
    for warning in checked.warnings:
        log.warning("policy pack has problems", problem=warning.format())
    log.info("policy packs checked", packs=checked.versions)


def check_packs(settings: Settings, channels: frozenset[str] | None = None) -> PackCheck:
    """Load every pack DEFAULT_POLICY and INBOX_POLICIES name, from
    POLICIES_DIR, as a ticket would. PackMappingError names each that fails."""
    reachable = configured_channels(settings) if channels is None else channels
    directory = Path(settings.policies_dir)
    uses = pack_uses(settings)
    result, problems = PackCheck(), []
    for pack, named_by in uses.items():
        outcome = _check_one(directory, pack, tuple(named_by), reachable)
        if isinstance(outcome, PackProblem):
            problems.append(outcome)
            continue
        version, warning = outcome
        result.versions[pack] = version
        if warning is not None:
            result.warnings.append(warning)
    if problems:
        raise PackMappingError(problems)
    return result


# The channels `ticketflow dev` stands in for when they are unset (starter/dev.py).
STAND_INS = frozenset({"slack", "email"})


def configured_channels(settings: Settings) -> frozenset[str]:
    """The optional channels this deployment can reach (`do: slack`, `do: email`)."""
    return frozenset(
        kind
        for kind, on in (("slack", settings.slack_configured), ("email", settings.email_configured))
        if on
    )


def _check_one(
    directory: Path, pack: str, named_by: tuple[str, ...], configured: frozenset[str]
) -> PackProblem | tuple[str, PackProblem | None]:
    """The pack's problem, or its version and what `pack check` says of it. A pack that
    posts to Slack or sends e-mail without those configured is refused: each such step
    would fail."""
    if not pack or "/" in pack or "\\" in pack or pack.startswith("."):
        return PackProblem(
            pack, named_by, "is not a pack name (a file name in POLICIES_DIR, without .yaml)"
        )
    path = policy_path(directory, pack)
    if not directory.is_dir():
        return PackProblem(
            pack, named_by, f"cannot be found: POLICIES_DIR ({directory}) is not a directory"
        )
    if not path.is_file():
        known = ", ".join(available(directory)) or "none"
        return PackProblem(
            pack,
            named_by,
            f"is not in POLICIES_DIR: no {path} (packs there: {known})",
            path=path,
        )
    try:
        policy = load_policy_file(path, shared=True)
    except (PolicyError, OSError) as exc:
        first, more = _first_problem(path, str(exc))
        return PackProblem(pack, named_by, f"does not load: {first}", more, path)
    report = check_file(path, configured)
    unreachable = [p for p in report.problems if p.kind == "channel-not-configured"]
    if unreachable:
        return PackProblem(
            pack,
            named_by,
            f"cannot run here: {_one_line(unreachable[0])}",
            len(unreachable) - 1,
            path,
        )
    warning = None
    if report.problems:
        first_found = report.problems[0]
        warning = PackProblem(
            pack,
            named_by,
            f"loads, but `pack check` finds a problem: {_one_line(first_found)}",
            len(report.problems) - 1,
            path,
        )
    return policy.version, warning


def _first_problem(path: Path, loader_error: str) -> tuple[str, int]:
    """The loader's first complaint, placed at `file:line:col` by the pack
    checker when it reports the same spot (else the checker's first problem,
    else the loader's own words), and how many more the checker found."""
    first_line = loader_error.splitlines()[0] if loader_error else "unreadable"
    located = check_file(path).problems
    if not located:
        return first_line, 0
    where = first_line.removeprefix(f"{path}: ").partition(": ")[0]
    chosen: Located = next((p for p in located if where in p.paths), located[0])
    return _one_line(chosen, hint=True), len(located) - 1


def _one_line(problem: Located, *, hint: bool = False) -> str:
    """`file:line:col: message`, and its hint on the next line when asked."""
    text = problem.format()
    head, _, rest = text.partition("\n")
    return f"{head}\n      {rest.strip()}" if hint and rest else head
