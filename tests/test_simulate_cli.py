"""`ticketflow simulate` as a support lead runs it, and scenario errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dryrun.scenario import ScenarioError, load_scenario
from engine.policy_loader import load_policy
from tests.helpers import POLICIES_DIR

SCENARIOS = Path(__file__).parent / "scenarios"
TICKETFLOW = str(Path(sys.executable).parent / "ticketflow")


pytestmark = pytest.mark.slow  # starts Temporal servers and processes


def _lookup(name):
    return load_policy(name, POLICIES_DIR)


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


HEAD = """policy: vip-concierge
start: 2026-11-17T10:00:00-06:00
ticket: {conversation_id: 5, contact: {name: Dana, vip: true}}
until: +1h
events:
"""


@pytest.mark.parametrize(
    "event,fragment",
    [
        (
            "  - {at: +5m, signal: agent_replied, by: alice}",
            "s.yaml:6: unknown person 'alice' in 'by'",
        ),
        ("  - {at: +5m, signal: waved, by: alicia}", "s.yaml:6: unknown signal 'waved'"),
        (
            "  - {at: +5m, signal: agent_replied, by: alicia, mood: happy}",
            "s.yaml:6: agent_replied does not take field(s) ['mood']",
        ),
        ("  - {at: soon, signal: resolved, by: alicia}", "s.yaml:6: expected an offset like +20m"),
        (
            "  - {at: +5m, signal: classify, via: update}",
            "s.yaml:6: classify cannot be sent as an update",
        ),
    ],
)
def test_bad_scenarios_say_which_line(tmp_path, event, fragment):
    with pytest.raises(ScenarioError) as err:
        load_scenario(_write(tmp_path, HEAD + event + "\n"), _lookup)
    assert fragment in str(err.value)


def test_unknown_ask_type_and_missing_fields(tmp_path):
    with pytest.raises(ScenarioError, match="unknown ask type"):
        load_scenario(
            _write(tmp_path, HEAD.replace("vip: true}", "vip: true}, ask_type: nope") + "  []\n"),
            _lookup,
        )
    with pytest.raises(ScenarioError, match="missing 'until'"):
        load_scenario(
            _write(
                tmp_path, "policy: vip-concierge\nstart: 2026-11-17T10:00:00-06:00\nevents: []\n"
            ),
            _lookup,
        )


def _run(*args):
    env = {k: v for k, v in os.environ.items()}
    return subprocess.run(
        [TICKETFLOW, "simulate", *args], capture_output=True, text=True, env=env, timeout=180
    )


def test_cli_prints_one_json_object_a_line():
    proc = _run(str(SCENARIOS / "vip_2_lola_paged_and_acknowledges.yaml"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines and all({"at", "action", "target"} <= set(x) for x in lines)
    assert all(x["at"].endswith("-06:00") for x in lines)  # the policy zone's offset
    assert ("pagerduty.trigger", "lola", "2026-11-17T10:30:00-06:00") in [
        (x["action"], x["target"], x["at"]) for x in lines
    ]


def test_cli_table_and_bad_scenario_exit_code(tmp_path):
    proc = _run(str(SCENARIOS / "vip_1_alicia_acknowledges.yaml"), "--format", "table")
    assert (
        proc.returncode == 0
        and "chatwoot.message" in proc.stdout
        and "final: stage=acknowledged" in proc.stdout
    )
    bad = _write(tmp_path, HEAD + "  - {at: +5m, signal: waved}\n")
    proc = _run(str(bad))
    assert proc.returncode == 2 and "unknown signal 'waved'" in proc.stderr


@pytest.mark.parametrize(
    "text,fragment",
    [
        (
            HEAD + "  - {at: 2026-11-31T10:00:00+00:00, signal: resolved, by: alicia}\n",
            "s.yaml:6: expected an offset like +20m or an ISO 8601 instant such as "
            "2026-11-17T10:00:00-06:00, got "
            "'2026-11-31T10:00:00+00:00' (day is out of range for month)",
        ),
        (
            HEAD.replace("start: 2026-11-17T10:00:00-06:00", "start: 2026-11-31T10:00:00-06:00")
            + "  []\n",
            "s.yaml:2: start: expected an offset like +20m",
        ),
        (
            HEAD.replace("until: +1h", "until: 2026-13-01T00:00:00-06:00") + "  []\n",
            "s.yaml:4: until: expected",
        ),
        (
            HEAD.replace("start: 2026-11-17T10:00:00-06:00", "start: 2026-11-17T10:00:00")
            + "  []\n",
            "s.yaml:2: start: instant 2026-11-17 10:00:00 needs a UTC offset",
        ),
        (
            HEAD + "  - {at: +5m, signal: agent_replied, by: alicia, substantive: maybe}\n",
            "s.yaml:6: agent_replied.substantive: Input should be a valid boolean",
        ),
        (
            HEAD.replace("conversation_id: 5", "conversation_id: five") + "  []\n",
            "s.yaml:3: ticket.conversation_id:",
        ),
        (
            HEAD.replace("{conversation_id: 5,", "{created: yesterday, conversation_id: 5,")
            + "  []\n",
            "s.yaml:3: ticket.created: expected an offset like +20m",
        ),
        (
            HEAD.replace("policy: vip-concierge", "policy: no-such-pack") + "  []\n",
            "s.yaml:1: policy 'no-such-pack':",
        ),
        (
            HEAD + "  - {at: +5m, signal: resolved, by: alicia, via: carrier-pigeon}\n",
            "s.yaml:6: via must be signal or update",
        ),
    ],
)
def test_every_bad_value_says_file_and_line(tmp_path, text, fragment):
    with pytest.raises(ScenarioError) as err:
        load_scenario(_write(tmp_path, text), _lookup)
    assert fragment in str(err.value)


def test_cli_bad_instant_exits_2_without_a_traceback(tmp_path):
    bad = _write(
        tmp_path, HEAD + "  - {at: 2026-11-31T10:00:00+00:00, signal: resolved, by: alicia}\n"
    )
    proc = _run(str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad}:6: expected an offset" in proc.stderr


def test_cli_removes_its_throwaway_postgres(tmp_path):
    """With no DATABASE_URL the CLI starts an embedded Postgres in a temp
    folder; the folder (~47 MB) is gone when the run ends."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(
        [TICKETFLOW, "simulate", str(SCENARIOS / "vip_1_alicia_acknowledges.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not list(tmp_path.glob("ticketflow-sim-*"))
