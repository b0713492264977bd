"""`ticketflow simulate` as a support lead runs it, and scenario errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.policy_loader import load_policy
from starter.scenario import ScenarioError, load_scenario
from tests.conftest import POLICIES_DIR

SCENARIOS = Path(__file__).parent / "scenarios"
TICKETFLOW = str(Path(sys.executable).parent / "ticketflow")


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


@pytest.mark.parametrize("event,fragment", [
    ("  - {at: +5m, signal: agent_replied, by: alice}", "s.yaml:6: unknown person 'alice' in 'by'"),
    ("  - {at: +5m, signal: waved, by: alicia}", "s.yaml:6: unknown signal 'waved'"),
    ("  - {at: +5m, signal: agent_replied, by: alicia, mood: happy}", "s.yaml:6: agent_replied does not take field(s) ['mood']"),
    ("  - {at: soon, signal: resolved, by: alicia}", "s.yaml:6: expected an offset like +20m"),
    ("  - {at: +5m, signal: classify, via: update}", "s.yaml:6: classify cannot be sent as an update"),
])
def test_bad_scenarios_say_which_line(tmp_path, event, fragment):
    with pytest.raises(ScenarioError) as err:
        load_scenario(_write(tmp_path, HEAD + event + "\n"), _lookup)
    assert fragment in str(err.value)


def test_unknown_ask_type_and_missing_fields(tmp_path):
    with pytest.raises(ScenarioError, match="unknown ask type"):
        load_scenario(_write(tmp_path, HEAD.replace("vip: true}", "vip: true}, ask_type: nope") + "  []\n"), _lookup)
    with pytest.raises(ScenarioError, match="missing 'until'"):
        load_scenario(_write(tmp_path, "policy: vip-concierge\nstart: 2026-11-17T10:00:00-06:00\nevents: []\n"), _lookup)


def _run(*args):
    env = {k: v for k, v in os.environ.items()}
    return subprocess.run([TICKETFLOW, "simulate", *args], capture_output=True, text=True, env=env, timeout=180)


def test_cli_prints_one_json_object_a_line():
    proc = _run(str(SCENARIOS / "vip_2_lola_paged_and_acknowledges.yaml"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines and all({"at", "action", "target"} <= set(x) for x in lines)
    assert all(x["at"].endswith("-06:00") for x in lines)  # the policy zone's offset
    assert ("pagerduty.trigger", "lola", "2026-11-17T10:30:00-06:00") in [(x["action"], x["target"], x["at"]) for x in lines]


def test_cli_table_and_bad_scenario_exit_code(tmp_path):
    proc = _run(str(SCENARIOS / "vip_1_alicia_acknowledges.yaml"), "--format", "table")
    assert proc.returncode == 0 and "chatwoot.message" in proc.stdout and "final: stage=acknowledged" in proc.stdout
    bad = _write(tmp_path, HEAD + "  - {at: +5m, signal: waved}\n")
    proc = _run(str(bad))
    assert proc.returncode == 2 and "unknown signal 'waved'" in proc.stderr
