"""The alert rules shipped with the compose stack (infra/prometheus-alerts.yml):
valid for Prometheus, firing on what they are for (promtool's unit tests in
tests/alerts/), and naming only metrics ticketflow really exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "infra" / "prometheus-alerts.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="no promtool: install Debian's prometheus package (`.ci/run` does it as root)",
)


def _promtool(*args: str) -> str:
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@needs_promtool
def test_the_rules_are_valid_prometheus_rules() -> None:
    assert "SUCCESS: 7 rules found" in _promtool("check", "rules", str(RULES))


@needs_promtool
def test_the_rules_fire_on_failing_pages_a_backed_up_lane_and_a_broken_pack() -> None:
    assert "SUCCESS" in _promtool("test", "rules", "tests/alerts/rules_test.yml")


def test_every_metric_the_rules_name_is_exported() -> None:
    named = set(re.findall(r"\b(ticketflow_[a-z_]+?)(?:_bucket)?\b", RULES.read_text()))
    sources = "".join(
        (ROOT / p).read_text() for p in ("workflows/metrics.py", "activities/delivery_metrics.py")
    )
    exported = set(re.findall(r'"(ticketflow_[a-z_]+)"', sources))
    assert named and named <= exported, named - exported


def test_the_compose_prometheus_loads_the_rules() -> None:
    assert (
        "prometheus-alerts.yml:/etc/prometheus/alerts.yml"
        in (ROOT / "docker-compose.yml").read_text()
    )
    assert "/etc/prometheus/alerts.yml" in (ROOT / "infra" / "prometheus.yml").read_text()
