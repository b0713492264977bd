"""The manual's walkthrough (docs/your-own-sop.md) stays true: its pack
passes the checker, the three typos it plants are reported on the lines the
page shows, and its Friday-afternoon dry run does what the page says, with
and without the `when: {stage: open}` that keeps Marcus asleep."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from dryrun.scenario import load_scenario
from dryrun.simulate import run_scenario
from engine.policy_loader import load_policy
from packtools.check import check_file
from tests.helpers import POLICIES_DIR

PAGE = Path(__file__).resolve().parent.parent / "docs" / "your-own-sop.md"
TYPOS = [
    ("agent_replied, resolved", "agent_replyed, resolved"),
    ("target: marcus, after: 30m", "target: marcos, after: 30m"),
    ("within {timeframe} (from {by})", "within {time_frame} (from {by})"),
]
STAGE_GUARD = " when: {stage: open},"


def blocks() -> dict[str, str]:
    text = PAGE.read_text()
    found = dict(re.findall(r"<!-- walkthrough: (\S+) -->\n```yaml\n(.*?)```", text, re.S))
    assert set(found) == {"billing-desk.yaml", "friday-afternoon.yaml"}
    return found


@pytest.fixture
def walkthrough(tmp_path) -> Path:
    for name, body in blocks().items():
        (tmp_path / name).write_text(body)
    shutil.copy(POLICIES_DIR / "pack.schema.json", tmp_path / "pack.schema.json")
    return tmp_path


def test_the_pack_passes_and_the_planted_typos_are_reported_where_the_page_says(walkthrough):
    pack = walkthrough / "billing-desk.yaml"
    assert check_file(pack).problems == []
    broken = pack.read_text()
    for right, wrong in TYPOS:
        assert right in broken
        broken = broken.replace(right, wrong, 1)
    pack.write_text(broken)
    report = check_file(pack)
    shown = re.findall(r"^billing-desk\.yaml:(\d+:\d+): ", PAGE.read_text(), re.M)
    assert [f"{p.position.line}:{p.position.column}" for p in report.problems] == shown
    assert len(shown) == 3


async def _pages(directory: Path, ts_env, pg_pool) -> list[tuple[str, str]]:
    scenario = load_scenario(
        directory / "friday-afternoon.yaml", lambda name: load_policy(name, directory)
    )
    result = await run_scenario(scenario, ts_env, pg_pool, directory)
    return [(p["target"], p["at"]) for p in result.actions("pagerduty.trigger")]


async def test_the_friday_dry_run_does_what_the_page_says(walkthrough, ts_env, pg_pool):
    # Priya at Monday 10:15 (45 minutes on Friday, 75 on Monday), Marcus never: Priya
    # took it at 10:20.
    assert await _pages(walkthrough, ts_env, pg_pool) == [("priya", "2026-12-07T10:15:00+00:00")]
    pack = walkthrough / "billing-desk.yaml"
    assert STAGE_GUARD in pack.read_text()
    pack.write_text(pack.read_text().replace(STAGE_GUARD, ""))
    assert await _pages(walkthrough, ts_env, pg_pool) == [
        ("priya", "2026-12-07T10:15:00+00:00"),
        ("marcus", "2026-12-07T10:45:00+00:00"),
    ]
