"""The committed pack JSON Schema matches the models, every shipped pack
validates against it and points editors at it, and the schema accepts what
the loader accepts (durations, times, windows, weekday keys)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from engine.yaml_loader import load_yaml
from models.policy import Policy
from packtools.cli import pack_app
from packtools.schema import MODELINE, SCHEMA_FILE, as_json, generate, render
from tests.helpers import POLICIES_DIR

SCHEMA_PATH = POLICIES_DIR / SCHEMA_FILE
PACKS = sorted(POLICIES_DIR.glob("*.yaml"))
PLANTED = Path(__file__).parent / "packs" / "planted_mistakes.yaml"


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_the_committed_schema_is_the_one_the_models_generate():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), (
        "policies/pack.schema.json is stale: run `ticketflow pack schema`"
    )


def test_pack_schema_check_says_it_is_up_to_date_and_writes_the_same_file(tmp_path: Path):
    runner = CliRunner()
    assert runner.invoke(pack_app, ["schema", "--check", "-o", str(SCHEMA_PATH)]).exit_code == 0
    stale = tmp_path / SCHEMA_FILE
    stale.write_text("{}\n")
    assert runner.invoke(pack_app, ["schema", "--check", "-o", str(stale)]).exit_code == 1
    assert runner.invoke(pack_app, ["schema", "-o", str(stale)]).exit_code == 0
    assert stale.read_text() == SCHEMA_PATH.read_text()


def test_descriptions_come_from_the_models():
    schema = generate()
    assert schema["definitions"]["ClockSpec"]["description"].startswith("An SLA clock")
    assert (
        "first is the default"
        in schema["definitions"]["HandoffSpec"]["properties"]["to"]["description"]
    )
    assert schema["properties"]["max_catch_up"]["default"] == "2h"  # as a pack writes it, not PT2H


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.stem)
def test_every_shipped_pack_validates_against_the_schema(pack: Path):
    errors = [
        f"{'.'.join(map(str, e.path))}: {e.message}"
        for e in _validator().iter_errors(as_json(load_yaml(pack.read_text())))
    ]
    assert not errors


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.stem)
def test_every_shipped_pack_points_editors_at_the_schema(pack: Path):
    assert pack.read_text().splitlines()[0] == MODELINE


def test_the_schema_underlines_planted_mistakes():
    paths = {
        ".".join(map(str, e.path))
        for e in _validator().iter_errors(as_json(load_yaml(PLANTED.read_text())))
    }
    assert {
        "people.ben.chatwoot_agent_id",
        "clocks.response.stops_on.0",
        "clocks.response_vip",
    } <= paths


# The schema and the loader agree on the values packs write by hand.
BASE = {
    "name": "x",
    "version": "1",
    "timezone": "UTC",
    "coverage": [{"owner": "a"}],
    "people": {"a": {"name": "A"}},
}
# kind -> (a pack with the value in place, values to try)
SAMPLES: dict[str, tuple[Callable[[Any], dict[str, Any]], list[Any]]] = {
    "duration": (
        lambda v: {**BASE, "max_catch_up": v},
        [
            "30m",
            "4h",
            "1h30m",
            "2d",
            "+20m",
            "90s",
            "2.5h",
            " 1h 30m ",
            90,
            0.5,
            "30",
            "30 minutes",
            "",
            "h",
            "1x",
            True,
        ],
    ),
    "time": (
        lambda v: {**BASE, "calendars": {"c": {"timezone": "UTC", "weekly": {}, "cutoff": v}}},
        ["14:30", "09:00", "24:00", "09:00:30", "9:00", "25:00", "14.30", "noon"],
    ),
    "window": (
        lambda v: {**BASE, "calendars": {"c": {"timezone": "UTC", "weekly": {"mon": [v]}}}},
        ["09:00-17:00", "00:00-24:00", " 09:00 - 17:00 ", "09:00", "9-17", "09:00-25:00"],
    ),
    "weekday key": (
        lambda v: {**BASE, "calendars": {"c": {"timezone": "UTC", "weekly": {v: []}}}},
        ["mon", "Mon", "mon-fri", "SAT-sun", "monday", "mon-", "weekdays"],
    ),
    "level key": (lambda v: {**BASE, "levels": {v: "Lead"}}, ["1", "0", "x"]),
}


def _loads(pack: dict) -> bool:
    try:
        Policy.model_validate(pack)
        return True
    except ValidationError:
        return False


@pytest.mark.parametrize("kind", SAMPLES)
def test_the_schema_accepts_what_the_loader_accepts(kind: str):
    make, values = SAMPLES[kind]
    validator = _validator()
    disagree = [v for v in values if validator.is_valid(as_json(make(v))) != _loads(make(v))]
    # A window that is well formed but ends before it starts ("09:00-08:00") is the loader's
    # (and `pack check`'s) to refuse: a schema cannot compare two times.
    assert not disagree, f"schema and loader disagree on {kind} {disagree}"
