"""Policy packs: every YAML in policies/ loads; bad packs fail at load time
with the file, the field path and what is wrong."""

from pathlib import Path

import pytest
import yaml

from engine.policy_loader import PolicyError, available, load_policy, load_policy_file
from tests.helpers import POLICIES_DIR


@pytest.mark.parametrize("name", available(POLICIES_DIR))
def test_every_pack_loads(name):
    policy = load_policy(name, POLICIES_DIR)
    assert policy.name == name
    assert policy.clocks or policy.rules


def test_there_is_at_least_the_reference_pack():
    assert "vip-concierge" in available(POLICIES_DIR)


def _broken(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((POLICIES_DIR / "vip-concierge.yaml").read_text())
    data["rules"] = [
        {"on": r[True], **{k: v for k, v in r.items() if k is not True}} if True in r else r
        for r in data["rules"]
    ]  # PyYAML 1.1 reads `on:` as True; restore it
    mutate(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "mutate,fragment",
    [
        (
            lambda d: d["templates"].update(auto_ack="Hi {frist_name}"),
            "templates.auto_ack: unknown field(s) {frist_name}",
        ),
        (
            lambda d: d["clocks"]["first_ack"]["on_breach"][0].update(target="lolla"),
            "clocks.first_ack.on_breach.0.target: unknown party 'lolla'",
        ),
        (lambda d: d["clocks"]["first_ack"].update(duration="soon"), "clocks.first_ack.duration"),
        (
            lambda d: d["calendars"]["business"].update(timezone="America/Chicag"),
            "calendars.business.timezone",
        ),
        (
            lambda d: d["rules"][0]["do"][2].update(template="nope"),
            "rules.0.do.2.template: unknown template 'nope'",
        ),
        (
            lambda d: d["escalations"].update(x={"target": "purple", "handoff": "over_authority"}),
            "escalations.x.target: 'purple' is not a 'to' of handoff",
        ),
        (lambda d: d["handoffs"]["founder_pull"].update(decisions=[]), "handoffs.founder_pull"),
        (lambda d: d["coverage"].pop(), "coverage"),
        (
            lambda d: d["clocks"]["first_ack"].update(starts_on=["ticket_openned"]),
            "clocks.first_ack.starts_on.0",
        ),
    ],
)
def test_bad_packs_name_file_path_and_problem(tmp_path, mutate, fragment):
    path = _broken(tmp_path, mutate)
    with pytest.raises(PolicyError) as err:
        load_policy_file(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_unknown_policy_lists_what_exists():
    with pytest.raises(PolicyError, match=r"unknown policy 'nope'.*vip-concierge"):
        load_policy("nope", POLICIES_DIR)


def test_yaml_12_booleans_keep_on_as_a_key():
    policy = load_policy("vip-concierge", POLICIES_DIR)
    assert policy.rules[0].on == "ticket_opened"
