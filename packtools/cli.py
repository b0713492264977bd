"""`ticketflow pack`: schema, check, new — the commands for writing an SOP.

A typer sub-app, added to the `ticketflow` command by starter/cli.py
(`app.add_typer(pack_app, name="pack")`), so it reads no settings and
needs no Temporal: a pack author runs it anywhere.

Exit status: 0 clean, 1 problems (or a stale schema with --check), 2 a
file that cannot be read, or bad arguments.
"""

from __future__ import annotations

from pathlib import Path

import typer

from packtools.check import EXIT_PROBLEMS, EXIT_UNREADABLE, check_files
from packtools.deployment import configured_channels, parse_channels
from packtools.schema import SCHEMA_FILE, render, write
from packtools.starter_pack import modeline_for, starter_pack

pack_app = typer.Typer(
    name="pack",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Write and check policy packs (bring your own SOP).",
)

DEFAULT_SCHEMA = Path("policies") / SCHEMA_FILE


@pack_app.command()
def schema(
    output: Path = typer.Option(
        DEFAULT_SCHEMA, "--output", "-o", help="Where to write the JSON Schema ('-': stdout)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 if the file is not up to date."
    ),
) -> None:
    """Write the pack JSON Schema, generated from the models (editors read it
    from each pack's first line)."""
    if str(output) == "-":
        typer.echo(render(), nl=False)
        return
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else None
        if current != render():
            typer.echo(
                f"{output} is not up to date: run `ticketflow pack schema -o {output}`", err=True
            )
            raise typer.Exit(EXIT_PROBLEMS)
        typer.echo(f"{output} is up to date")
        return
    typer.echo(f"{'wrote' if write(output) else 'unchanged'}: {output}")


@pack_app.command()
def check(
    files: list[Path] = typer.Argument(..., help="Pack files, or folders of *.yaml packs."),
    channels: str = typer.Option(
        "auto",
        "--channels",
        help="The channels the deployment can send to: 'slack', 'email', 'slack,email' or "
        "'none'. 'auto': those whose setting (SLACK_BOT_TOKEN, SMTP_URL, or their *_FILE) "
        "is set in the environment or ./.env. A pack that uses one of the others is refused.",
    ),
) -> None:
    """Report every mistake of each pack, as file:line:col: message, with a hint."""
    try:
        configured = parse_channels(channels)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--channels") from None
    if configured is None:
        configured = configured_channels()
    paths: list[Path] = []
    for f in files:
        paths += sorted(f.glob("*.yaml")) if f.is_dir() else [f]
    reports, code = check_files(paths, configured)
    count = 0
    for report in reports:
        for problem in report.problems:
            typer.echo(problem.format())
            count += 1
    unreadable = sum(r.unreadable for r in reports)
    summary = (
        f"{count} problem{'s' * (count != 1)} in {len(reports)} pack{'s' * (len(reports) != 1)}"
    )
    typer.echo(summary + (f" ({unreadable} unreadable)" if unreadable else ""), err=True)
    raise typer.Exit(code)


@pack_app.command()
def new(
    name: str = typer.Argument(..., help="The pack's name, a lowercase slug (my-team)."),
    directory: Path = typer.Option(Path("policies"), "--dir", help="Where to write NAME.yaml."),
    schema_path: Path = typer.Option(
        DEFAULT_SCHEMA, "--schema", help="The schema the first line points editors at."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter pack that passes `pack check`."""
    path = directory / f"{name}.yaml"
    if path.exists() and not force:
        typer.echo(f"{path} exists (--force to overwrite)", err=True)
        raise typer.Exit(EXIT_UNREADABLE)
    try:
        text = starter_pack(name, modeline_for(path, schema_path), str(path))
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {path}; edit it, then: ticketflow pack check {path}")
