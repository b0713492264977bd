"""One stack of processes for the fault scenarios (they run in file order and
leave the stack healthy for the next), and the summary table at the end."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.faults import report
from tests.faults.stack import Stack


@pytest.fixture(scope="module")
async def stack():
    s = Stack(Path(tempfile.mkdtemp(prefix="ticketflow-faults-")))
    try:
        await s.start()
        yield s
    finally:
        await s.stop()


def pytest_terminal_summary(terminalreporter) -> None:
    if report.RESULTS:
        terminalreporter.write_sep("=", f"fault suite (FAULTS_SCALE={report.scale()})")
        from dataclasses import asdict

        terminalreporter.write_line(report.table([asdict(r) for r in report.RESULTS]))
