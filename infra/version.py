"""The one version an operator sees: `ticketflow --version`, the bridge's
`/healthz`, the worker's start-up log line.

It is the installed package's (`pip show ticketflow`): the `version` in
pyproject.toml, recorded when the package is installed, so a wheel, an
editable install and the Docker image say the same. A source tree run
without installing it (`PYTHONPATH=. python -m starter.cli`) has no package
metadata; it reads pyproject.toml beside this tree instead.

Beside it, the patch bundle a ticket started now records
(`workflows.versions`): what decides which releases can replay it, and so
which release a rollout may roll back to (CHANGELOG.md).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

from workflows.versions import BUNDLES, CURRENT

DISTRIBUTION = "ticketflow"  # `name` in pyproject.toml
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
UNKNOWN = "0+unknown"


@cache
def version() -> str:
    """The installed ticketflow's version, else the source tree's."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return source_version() or UNKNOWN


def source_version(pyproject: Path | None = None) -> str | None:
    """`[project] version` of a pyproject.toml (this tree's by default), if it has one."""
    try:
        data = tomllib.loads((pyproject or PYPROJECT).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    project = data.get("project")
    found = project.get("version") if isinstance(project, dict) else None
    return found if isinstance(found, str) and found else None


def new_ticket_bundle(dormant: frozenset[str] = frozenset()) -> str | None:
    """The bundle a new ticket records on a worker that keeps `dormant`
    (WORKER_DORMANT_PATCHES) off: the newest one not dormant, as
    `workflows.versions.patches_in_effect` finds it; None when all are."""
    return next((name for name, _ in BUNDLES if name not in dormant), None)


def describe() -> str:
    """`ticketflow 0.9.0 (new tickets record patches-2026-12f)`."""
    return f"{DISTRIBUTION} {version()} (new tickets record {CURRENT})"
