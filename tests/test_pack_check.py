"""`ticketflow pack check` and `pack new`: every planted mistake is reported
with its line in one run, shipped packs are clean, unreadable files exit 2,
and the starter pack passes and loads. The sets the checks use (events,
facts, template context: packtools.vocabulary) are checked against what
the engine really produces, by reading engine/core.py and by driving the
engine through every scenario of the shipped packs."""

from __future__ import annotations

import ast
import functools
import inspect
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
from typer.testing import CliRunner

import engine.core as core
from dryrun.scenario import load_scenario
from engine.core import Rejected, TicketEngine
from engine.policy_loader import load_policy, load_policy_file
from engine.templates import FIELDS
from models.actions import Action
from models.ticket import Ticket
from packtools import vocabulary as vocab
from packtools.check import check_file, check_text
from packtools.cli import pack_app
from tests.helpers import POLICIES_DIR, parse_sources

PACKS = sorted(POLICIES_DIR.glob("*.yaml"))
PLANTED = Path(__file__).parent / "packs" / "planted_mistakes.yaml"
SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.yaml"))
LINE = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$", re.M)


def _planted() -> dict[int, str]:
    """Line -> the kind of mistake planted there (`# MISTAKE: <kind>`)."""
    return {
        n: m.group(1)
        for n, text in enumerate(PLANTED.read_text().splitlines(), 1)
        if (m := re.search(r"# MISTAKE: ([a-z-]+)$", text))
    }


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.stem)
def test_every_shipped_pack_passes_the_check(pack: Path):
    assert [p.format() for p in check_file(pack).problems] == []


def test_every_planted_mistake_is_reported_with_its_line_in_one_run():
    planted = _planted()
    assert len(planted) >= 12
    kinds = {
        "unknown-party",
        "unknown-event",
        "unknown-fact",
        "empty-placeholder",
        "calendar-never-open",
        "holiday-closed-day",
        "after-close",
        "unknown-handoff",
        "duplicate-title",
        "bad-value",
        "unknown-field",
    }
    assert kinds <= set(planted.values()), "the planted pack must cover every kind of mistake"
    report = check_file(PLANTED)
    assert report.exit_code == 1
    assert {p.position.line: p.kind for p in report.problems} == planted
    assert len(report.problems) == len(planted)
    assert all(p.hint for p in report.problems)


def test_the_cli_prints_file_line_col_and_exits_1():
    result = CliRunner().invoke(pack_app, ["check", str(PLANTED), str(PACKS[0])])
    assert result.exit_code == 1
    lines = {int(m["line"]) for m in LINE.finditer(result.stdout) if m["file"] == str(PLANTED)}
    assert lines == set(_planted())
    assert "hint: did you mean 'agent_replied'?" in result.stdout
    assert f"{len(_planted())} problems in 2 packs" in result.stderr


def test_a_typo_in_a_shared_anchor_is_one_problem_and_the_rest_is_still_checked():
    text = (POLICIES_DIR / "lifecycle.yaml").read_text()
    text = text.replace("stops_on: [agent_replied, resolved]", "stops_on: [agent_repled, resolved]")
    text = text.replace(
        '{do: page, target: supervisor, severity: warning, summary: "Ticket',
        '{do: page, target: supervisr, severity: warning, summary: "Ticket',
    )
    report = check_text(text, "lifecycle.yaml")
    lines = text.splitlines()
    by_line = {p.position.line: p for p in report.problems}
    assert len(report.problems) == 2, [p.format() for p in report.problems]
    typo = next(n for n, t in enumerate(lines, 1) if "agent_repled" in t)
    assert "response_low" in by_line[typo].message and by_line[typo].kind == "bad-value"
    assert next(n for n, t in enumerate(lines, 1) if "supervisr" in t) in by_line


@pytest.mark.parametrize(
    "content, line, col",
    [
        ("name: x\n  bad: [\n", 2, 6),
        ("name: x\nversion: '1\n", 3, 1),
    ],
)
def test_invalid_yaml_exits_2_with_its_position(tmp_path: Path, content: str, line: int, col: int):
    path = tmp_path / "broken.yaml"
    path.write_text(content)
    result = CliRunner().invoke(pack_app, ["check", str(path)])
    assert result.exit_code == 2
    assert f"{path}:{line}:{col}: not valid YAML" in result.stdout


def test_unreadable_files_exit_2(tmp_path: Path):
    missing, binary = tmp_path / "missing.yaml", tmp_path / "latin1.yaml"
    binary.write_bytes(b"name: caf\xe9\n")
    result = CliRunner().invoke(pack_app, ["check", str(missing), str(binary), str(PLANTED)])
    assert result.exit_code == 2
    assert f"{missing}:1:1: cannot read the file" in result.stdout
    assert f"{binary}:1:10: not UTF-8 text" in result.stdout


def test_pack_new_writes_a_pack_that_passes_the_check_and_loads(tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(
        pack_app,
        [
            "new",
            "my-team",
            "--dir",
            str(tmp_path),
            "--schema",
            str(POLICIES_DIR / "pack.schema.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    path = tmp_path / "my-team.yaml"
    assert path.read_text().startswith("# yaml-language-server: $schema=")
    assert runner.invoke(pack_app, ["check", str(path)]).exit_code == 0
    assert load_policy("my-team", tmp_path).name == "my-team"
    assert (
        runner.invoke(pack_app, ["new", "my-team", "--dir", str(tmp_path)]).exit_code == 2
    )  # no overwrite
    assert runner.invoke(pack_app, ["new", "My Team", "--dir", str(tmp_path)]).exit_code == 2


def test_a_pack_that_passes_the_check_loads():
    for pack in PACKS:
        assert not check_file(pack).problems
        load_policy_file(pack)


# ---------------------------------------------------------------- the sets agree with the engine
# The engine is read and hooked by what is stable across refactors: calls of an `emit`
# method with the event's name, writes to `facts`, and the functions `holds` (every
# condition a ticket evaluates) and `render` (every template it fills) wherever the
# engine's modules import them.

ENGINE_DIR = Path(core.__file__).parent


@functools.cache
def _engine_trees() -> tuple[ast.Module, ...]:
    return tuple(parse_sources(sorted(ENGINE_DIR.glob("*.py"))).values())


def _engine_sources() -> list[ast.Module]:
    """The engine's modules, parsed once a run (the tests only read the trees)."""
    return list(_engine_trees())


def _strings(node: ast.AST) -> set[str]:
    """The names an expression can be: `"a"`, or either branch of `"a" if x else "b"`."""
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    return {node.value} if isinstance(node, ast.Constant) and isinstance(node.value, str) else set()


def test_the_events_are_the_ones_the_engine_emits() -> None:
    emitted: set[str] = set()
    for tree in _engine_sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) in ("emit", "_emit")
                and node.args
            ):
                emitted |= _strings(node.args[0])
    assert emitted == vocab.SIGNAL_EVENTS | vocab.PACK_EVENTS
    assert set(vocab.EVENT_CONTEXT) >= emitted | {"condition_met"}


def test_the_facts_are_the_ones_the_engine_sets() -> None:
    written: set[str] = set()
    for tree in _engine_sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Store)
                and getattr(node.value, "attr", getattr(node.value, "id", None)) == "facts"
            ):
                written |= _strings(node.slice)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "update"
                and node.args
                and isinstance(node.args[0], ast.Dict)
                and getattr(node.func.value, "attr", getattr(node.func.value, "id", None))
                == "facts"
            ):
                written |= {
                    k.value
                    for k in node.args[0].keys
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                }
    assert {"vip", "escalated_to", "sla_breached"} <= written
    assert written <= vocab.TICKET_FACTS | vocab.HANDOFF_FACTS | vocab.BREACH_FACTS


def _engine_modules() -> list:
    return [
        m
        for name, m in sorted(sys.modules.items())
        if name == "engine" or name.startswith("engine.")
    ]


def _hook(monkeypatch, seen: list[str], where: list[str], policy_of) -> dict[str, int]:
    """Wrap every engine `emit` method, and `holds` / `render` in every engine module;
    returns how often each was called."""
    import engine.conditions
    import engine.templates

    holds, render = engine.conditions.holds, engine.templates.render
    calls = {"emit": 0, "holds": 0, "render": 0}
    wrapped = 0
    for module in _engine_modules():
        for cls in [
            c
            for c in vars(module).values()
            if inspect.isclass(c) and c.__module__ == module.__name__
        ]:
            for name in ("emit", "_emit"):
                if name in vars(cls) and Protocol not in cls.__mro__:
                    monkeypatch.setattr(
                        cls, name, _observe_emit(getattr(cls, name), seen, where, policy_of, calls)
                    )
                    wrapped += 1

    def observe_holds(condition, facts):
        calls["holds"] += 1
        policy = policy_of()
        known = set(vocab.fact_sources(policy)) | vocab.ALL_CONTEXT
        extra = {k for k in facts if not k.startswith("open:")} - known
        if extra:
            seen.append(
                f"{where[0]}: a condition saw facts {sorted(extra)} unknown to fact_sources"
            )
        return holds(condition, facts)

    def observe_render(template, context):
        calls["render"] += 1
        policy = policy_of()
        users = [
            (site, step)
            for site in vocab.sites(policy)
            for step in site.steps
            if template
            in (
                policy.templates.get(step.template or ""),
                step.summary,
                step.label,
                step.reason,
                *step.fields.values(),
            )
        ]
        have = (
            set().union(*(vocab.template_fields(policy, site, step) for site, step in users))
            if users
            else None
        )
        filled = {k for k, v in context.items() if k in FIELDS and v not in (None, "")}
        if have is not None and filled - have:
            seen.append(
                f"{where[0]}: {template[:40]!r} was filled with {sorted(filled - have)}, "
                "unknown to template_fields"
            )
        return render(template, context)

    for module in _engine_modules():
        if getattr(module, "holds", None) is holds:
            monkeypatch.setattr(module, "holds", observe_holds)
        if getattr(module, "render", None) is render:
            monkeypatch.setattr(module, "render", observe_render)
    assert wrapped, (
        "no emit method found in the engine: update this test to hook where events are raised"
    )
    return calls


def _observe_emit(method, seen: list[str], where: list[str], policy_of, calls: dict[str, int]):
    def emit(self, event, now, context=None):
        calls["emit"] += 1
        policy = policy_of()
        if event not in vocab.event_sources(policy):
            seen.append(f"{where[0]}: event {event!r} unknown to event_sources")
        if set(context or {}) - vocab.EVENT_CONTEXT.get(event, frozenset()):
            seen.append(
                f"{where[0]}: {event!r} came with {sorted(context)}, unknown to EVENT_CONTEXT"
            )
        return method(self, event, now, context)

    return emit


def _drive(path: Path, seen: list[str], current: list) -> None:
    """Run a scenario on the bare engine (no Temporal): signals in order,
    deadlines as they fall due, handoffs answered or timed out."""
    scenario = load_scenario(path)
    policy = load_policy(scenario.policy, POLICIES_DIR)
    current[:] = [path.stem, policy]
    t = scenario.ticket
    ticket = Ticket(
        account_id=t.account_id,
        conversation_id=t.conversation_id,
        policy=scenario.policy,
        contact=t.contact,
        labels=t.labels,
        custom_attributes=t.custom_attributes,
        ask_type=t.ask_type,
        created_at=scenario.created_at or scenario.start,
    )
    engine = TicketEngine.new(policy, ticket, f"ticket-{t.account_id}-{t.conversation_id}")
    open_handoffs: dict[str, datetime] = {}

    def handle(actions, now):
        unknown = set(engine.state.facts) - set(vocab.fact_sources(policy))
        if unknown:
            seen.append(
                f"{path.stem}: the ticket has facts {sorted(unknown)} unknown to fact_sources"
            )
        for a in actions:
            if a.kind == "handoff.start":
                open_handoffs[a.params["handoff_id"]] = datetime.fromisoformat(a.params["deadline"])
            elif a.kind == "query.recent_level":
                handle(engine.recent_level_counted(a.params["level"], 1, now), now)
            elif a.kind == "handoff.signal":
                p = a.params
                outcome = (
                    "failed" if not p["ok"] else "decided" if p["decision"] else "acknowledged"
                )
                open_handoffs.pop(p["handoff_id"], None)
                handle(
                    engine.handoff_result(
                        p["handoff_id"], outcome, p["by"], p["decision"], None, None, [], now
                    ),
                    now,
                )

    def run_until(until):
        while True:
            due = [
                x
                for x in [engine.next_wakeup(), *open_handoffs.values()]
                if x is not None and x <= until
            ]
            if not due:
                return
            now = min(due)
            for hid in [h for h, d in open_handoffs.items() if d <= now]:
                del open_handoffs[hid]
                handle(engine.handoff_result(hid, "failed", None, None, None, None, [], now), now)
            handle(engine.advance(now), now)

    handle(engine.open(scenario.start), scenario.start)
    for ev in scenario.events:
        run_until(ev.at)
        try:
            handle(_deliver(engine, ev.signal, ev.fields, ev.at), ev.at)
        except Rejected:
            pass
    run_until(scenario.until)


def _deliver(engine: TicketEngine, signal: str, f: dict[str, Any], at: datetime) -> list[Action]:
    """A scenario's signal, delivered to the bare engine as the workflow would."""
    match signal:
        case "acknowledged":
            return engine.acknowledged(f["by"], at)
        case "agent_replied":
            return engine.agent_replied(f["by"], f.get("substantive", True), at)
        case "customer_replied":
            return engine.customer_replied(at)
        case "resolved":
            return engine.resolve(f["by"], f.get("resolution", ""), at)
        case "reopened":
            return engine.reopen(f.get("by"), at)
        case "escalate":
            return engine.escalate(f["by"], f.get("target"), f["reason"], f.get("payload", {}), at)
        case "reassign":
            return engine.reassign(f["to"], f.get("by"), at)
        case "classify":
            return engine.classify(
                f.get("ask_type"), f.get("labels"), f.get("custom_attributes"), at
            )
        case "vip_flag_changed":
            return engine.vip_changed(f["vip"], f["by"], f.get("why", ""), at)
        case "status_changed":
            return engine.status_changed(f["status"], at)
    ok = signal != "handoff_failed"
    return engine.handoff_response(
        f["by"], f.get("decision"), f.get("founder_action"), ok, f.get("handoff"), at
    )


def test_the_engine_produces_nothing_the_checks_do_not_know(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every scenario of the shipped packs, on the bare engine: each event it
    raises, each fact a condition sees and each template field it fills is
    one `packtools.vocabulary` knows for that pack (so `pack check` never
    calls a working pack wrong)."""
    seen: list[str] = []
    current: list = ["", None]
    calls = _hook(monkeypatch, seen, current, lambda: current[1])
    for path in SCENARIOS:
        _drive(path, seen, current)
    assert len(SCENARIOS) >= 30 and all(n > 100 for n in calls.values()), calls
    assert not seen, "\n".join(dict.fromkeys(seen))


def test_a_channel_the_deployment_cannot_send_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """ops-ladder posts to Slack, tier-escalation also e-mails: refused where the
    deployment has neither, by `--channels` or read as the settings read it."""
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN_FILE", "SMTP_URL", "SMTP_URL_FILE"):
        monkeypatch.delenv(name, raising=False)
    packs = [str(POLICIES_DIR / "ops-ladder.yaml"), str(POLICIES_DIR / "tier-escalation.yaml")]
    runner = CliRunner()

    def check(*args: str) -> Any:
        return runner.invoke(pack_app, ["check", *packs, *args])

    unset = check()
    assert unset.exit_code == 1
    assert "SLACK_BOT_TOKEN is not set" in unset.stdout
    assert "SMTP_URL is not set" in unset.stdout
    assert check("--channels", "slack,email").exit_code == 0
    only_slack = check("--channels", "slack")
    assert only_slack.exit_code == 1 and "SLACK_BOT_TOKEN" not in only_slack.stdout
    assert check("--channels", "pigeon").exit_code == 2
    # As the worker would read them: the environment, or ./.env (no secret is read).
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    (tmp_path / ".env").write_text("SMTP_URL_FILE=/run/secrets/smtp\n")
    assert check().exit_code == 0, check().stdout
