"""The dev server's command line, shared by `ticketflow dev`, the bench and
the fault suite (infra/dev_server.py)."""

from pathlib import Path

from infra.dev_server import SQLITE_PRAGMAS, dev_server_argv
from models import search_attributes


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_a_sqlite_file_gets_wal_and_normal_sync():
    argv = dev_server_argv(ip="127.0.0.1", port=7233, db_file=Path("/tmp/x.db"), ui_port=8233)
    assert _pairs(argv, "--db-filename") == ["/tmp/x.db"]
    assert (
        _pairs(argv, "--sqlite-pragma")
        == list(SQLITE_PRAGMAS)
        == ["journal_mode=wal", "synchronous=normal"]
    )
    assert _pairs(argv, "--ui-port") == ["8233"] and "--headless" not in argv


def test_in_memory_has_no_pragmas_and_headless_without_ui_port():
    argv = dev_server_argv(ip="127.0.0.1", port=7233)
    assert "--db-filename" not in argv and "--sqlite-pragma" not in argv
    assert "--headless" in argv


def test_every_search_attribute_is_registered_with_its_type():
    argv = dev_server_argv(ip="127.0.0.1", port=7233, extra=("--http-port", "1"))
    attrs = dict(p.split("=", 1) for p in _pairs(argv, "--search-attribute"))
    assert set(attrs) == {k.name for k in search_attributes.ALL}
    assert (
        attrs["TicketVip"] == "Bool"
        and attrs["EscalationLevel"] == "Int"
        and attrs["TicketId"] == "Keyword"
    )
    assert argv[-2:] == ["--http-port", "1"]
