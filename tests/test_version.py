"""One version an operator can see: `ticketflow --version`, the bridge's
/healthz, the worker's start-up log line (infra/version.py)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from client.gateway import TemporalGateway
from infra import version as v
from infra.settings import load_settings
from starter.bridge import create_app
from starter.cli import app
from workflows.versions import BUNDLES, CURRENT

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_version_is_the_installed_packages():
    assert v.version() == PYPROJECT_VERSION  # the editable install of this tree


def test_a_source_tree_without_metadata_reads_pyproject(tmp_path, monkeypatch):
    def not_installed(name: str) -> str:
        raise v.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(v.metadata, "version", not_installed)
    v.version.cache_clear()
    try:
        assert v.version() == PYPROJECT_VERSION
        monkeypatch.setattr(v, "PYPROJECT", tmp_path / "pyproject.toml")  # none there
        v.version.cache_clear()
        assert v.version() == v.UNKNOWN
    finally:
        v.version.cache_clear()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "9.9.9"\n')
    assert v.source_version(tmp_path / "pyproject.toml") == "9.9.9"


def test_the_bundle_new_tickets_record():
    assert v.new_ticket_bundle() == CURRENT
    held_back = frozenset({CURRENT})  # WORKER_DORMANT_PATCHES, the first step of a rollout
    assert v.new_ticket_bundle(held_back) == BUNDLES[1][0]
    assert v.new_ticket_bundle(frozenset(name for name, _ in BUNDLES)) is None


def test_version_option_prints_version_and_bundle():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"ticketflow {PYPROJECT_VERSION} (new tickets record {CURRENT})\n"


@pytest.mark.slow
def test_the_installed_command_prints_it(tmp_path):
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ticketflow"), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ticketflow {PYPROJECT_VERSION} (new tickets record {CURRENT})"


async def healthz(healthy: bool) -> httpx.Response:
    settings = load_settings(_env_file=None, temporal_address="127.0.0.1:1", webhook_secret="whsec")
    gateway = TemporalGateway(settings)

    async def answer() -> bool:
        return healthy

    gateway.healthy = answer  # type: ignore[method-assign]
    application = create_app(settings, gateway)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://bridge"
    ) as http:
        return await http.get("/healthz")


async def test_healthz_says_the_version():
    up = await healthz(True)
    assert up.status_code == 200
    assert up.json() == {"status": "ok", "temporal": "127.0.0.1:1", "version": PYPROJECT_VERSION}
    down = await healthz(False)
    assert down.status_code == 503
    assert down.json()["version"] == PYPROJECT_VERSION


async def test_the_worker_logs_its_version_and_bundle_as_it_starts():
    from structlog.testing import capture_logs

    from worker import run_until_signalled

    settings = load_settings(
        _env_file=None, temporal_address="127.0.0.1:1", worker_dormant_patches=CURRENT
    )
    with capture_logs() as logs, pytest.raises(RuntimeError):  # no Temporal there
        await run_until_signalled(settings)
    [line] = [entry for entry in logs if entry["event"] == "worker starting"]
    assert line["version"] == PYPROJECT_VERSION
    assert line["new_tickets_record"] == BUNDLES[1][0]  # the newest is held back
    assert line["dormant_patches"] == [CURRENT]
    assert line["console_links"] == "off: PUBLIC_URL unset"  # pages carry no console link
