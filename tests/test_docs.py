"""The manual and the README stay true and whole: `mkdocs build --strict`
fails on a broken link, anchor, image or nav entry; the README stays a front
door; the reference names every setting and every CLI command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import typer

from infra.settings import Settings
from starter.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = (DOCS / "reference.md").read_text()


def test_manual_builds_strict(tmp_path):
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
    }  # mkdocs-material's end-of-life banner, not a page problem
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert not re.search(r"^(WARNING|ERROR)\b", output, re.MULTILINE), output
    assert (tmp_path / "site" / "index.html").exists()


def test_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    assert "```mermaid" in readme
    for command in ("make dev", "make test"):
        assert command in readme
    for page in (
        "index",
        "writing-packs",
        "operating",
        "deploying",
        "performance",
        "reliability",
        "reference",
    ):
        assert f"(docs/{page}.md" in readme, page  # relative links, so they work on the code host
        assert (DOCS / f"{page}.md").exists(), page


def test_no_working_notes_in_the_product():
    leftovers = [
        p.name
        for p in DOCS.iterdir()
        if p.name.startswith(("note-issue-", "readme-issue-")) or p.suffix in (".json", ".txt")
    ]
    assert not leftovers
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        text = page.read_text()
        assert "../shared" not in text and "shared/sops" not in text, page.name
        assert not re.search(
            r"\b(this|first|second|third|fourth|fifth) pass\b|\bissue \d+", text, re.I
        ), page.name


def test_reference_names_every_setting():
    missing = [
        name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in REFERENCE
    ]
    assert not missing, f"docs/reference.md does not name: {missing}"


def test_reference_names_every_cli_command():
    commands = typer.main.get_command(app).commands
    assert {"dev", "worker", "bridge", "setup", "simulate", "report", "show", "list"} <= set(
        commands
    )
    missing = [name for name in commands if f"`ticketflow {name}" not in REFERENCE]
    assert not missing, f"docs/reference.md does not name: {missing}"


def test_screenshots_the_manual_shows_are_in_docs_img():
    shown = set()
    for page in DOCS.glob("*.md"):
        shown |= set(re.findall(r"!\[[^\]]*\]\((img/[^)\s]+)\)", page.read_text()))
    assert {"img/console-board.png", "img/console-ticket.png"} <= shown
    assert not list(DOCS.glob("*.png")), "screenshots live in docs/img/"
