"""The fault suite's summary: one row per scenario, printed at the end of a
pytest run (tests/faults/conftest.py) and kept in `.ticketflow/faults-last-run.json`.

    .venv/bin/python -m tests.faults.report          # print the last run's table (Markdown)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

LAST_RUN = Path(__file__).resolve().parents[2] / ".ticketflow" / "faults-last-run.json"
RESULTS: list[Row] = []


@dataclass
class Row:
    scenario: str
    inputs: str
    lost: int
    duplicated: int
    stuck: int
    notes: str = ""


def scale() -> str:
    """`FAULTS_SCALE=full` runs the full sizes (300 tickets, 10,000 bodies);
    default: bounded for CI."""
    return os.environ.get("FAULTS_SCALE", "ci")


def sized(ci: int, full: int) -> int:
    s = scale()
    if s == "full":
        return full
    try:
        return max(1, int(ci * float(s)))
    except ValueError:
        return ci


def record(row: Row) -> None:
    RESULTS.append(row)
    LAST_RUN.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(LAST_RUN.read_text()) if LAST_RUN.exists() else {}
    rows = (
        {r["scenario"]: r for r in previous.get("rows", [])}
        if previous.get("scale") == scale()
        else {}
    )
    rows[row.scenario] = asdict(row)
    LAST_RUN.write_text(json.dumps({"scale": scale(), "rows": list(rows.values())}, indent=1))


def table(rows: list[dict]) -> str:
    lines = [
        "| scenario | inputs | lost | duplicated | stuck | notes |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in sorted(rows, key=lambda r: r["scenario"]):
        lines.append(
            f"| {r['scenario']} | {r['inputs']} | {r['lost']} | {r['duplicated']} | {r['stuck']} | "
            f"{r['notes']} |"
        )
    return "\n".join(lines)


def main() -> None:
    if not LAST_RUN.exists():
        print("no fault-suite run recorded yet: make test ARGS='tests/faults'")
        return
    data = json.loads(LAST_RUN.read_text())
    print(f"fault suite, scale {data['scale']}:\n")
    print(table(data["rows"]))


if __name__ == "__main__":
    main()
