"""The `ticketflow` command.

Platform commands: `dev` (whole stack), `worker`, `bridge`, `setup`
(migrations, search attributes, reconciliation schedule), `simulate`,
`whatif` (a draft pack replayed on recorded tickets, dryrun/whatif.py);
`import chatwoot` (starter/import_cli.py); operator commands in starter/operator_cli.py.
Exit codes: 0 ok, 1 failure, 2 bad settings or arguments, 3 refused by the
ticket, 4 unknown ticket, 5 Temporal unreachable.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import typer

from infra.logging import configure_logging, configure_temporal_runtime
from infra.settings import Settings, SettingsError, check_metrics_address, load_settings
from infra.telemetry import DEV_METRICS_ADDRESS, MetricsUnavailable

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="ticketflow: durable SLA and escalation orchestration on Temporal.",
)

EXIT_FAILURE = 1
EXIT_USAGE = 2
VERSION_HELP = "Print the version and the patch bundle new tickets record, then exit."


def _print_version(value: bool) -> None:
    if value:
        from infra.version import describe

        typer.echo(describe())
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help=VERSION_HELP
    ),
) -> None:
    pass


def _settings(
    *, metrics: Callable[[Settings], str | None] | None = None, check_packs: object = False, **kw
) -> Settings:
    """Settings, logging and the Temporal runtime (`metrics`: its Prometheus address, worker
    only). `check_packs`: refuse to start unless every pack the settings name loads ("dev")."""
    try:
        settings = load_settings(**{k: v for k, v in kw.items() if v is not None})
        configure_logging(settings.log_format, settings.log_level)
        if check_packs:  # before the runtime takes the metrics port: a refused worker never listens
            from infra.startup_checks import STAND_INS, check_packs_at_start

            check_packs_at_start(settings, STAND_INS if check_packs == "dev" else None)
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        configure_temporal_runtime(metrics_address=metrics(settings) if metrics else None)
    except MetricsUnavailable as exc:
        typer.echo(
            f"{exc} (set WORKER_METRICS_ADDRESS, or --metrics-address for dev, "
            "to another port or off)",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE) from None
    return settings


@app.command()
def dev(
    state_dir: Path = typer.Option(
        Path(".ticketflow"),
        envvar="TICKETFLOW_STATE_DIR",
        help="Where Temporal and Postgres keep data.",
    ),
    temporal_port: int = typer.Option(
        7233, envvar="TICKETFLOW_TEMPORAL_PORT", help="0: any free port."
    ),
    ui_port: int = typer.Option(8233, envvar="TICKETFLOW_UI_PORT", help="0: any free port."),
    bridge_port: int = typer.Option(None, help="Default: BRIDGE_PORT or 8080; 0: any free port."),
    host: str = typer.Option("127.0.0.1", envvar="TICKETFLOW_HOST"),
    sandbox_chatwoot_port: int = typer.Option(0, help="Chatwoot sandbox port (0: any free port)."),
    sandbox_pagerduty_port: int = typer.Option(0, help="PagerDuty sandbox port (0: any)."),
    sandbox_slack_port: int = typer.Option(0, help="Slack sandbox port (0: any free port)."),
    sandbox_smtp_port: int = typer.Option(0, help="SMTP sink port (0: any free port)."),
    metrics_address: str = typer.Option(
        DEV_METRICS_ADDRESS,
        help="Worker's Prometheus /metrics (host:port, port 0: any free port; or off).",
    ),
) -> None:
    """Run the whole stack locally: Temporal + UI, Postgres, worker, bridge, sandboxes.

    The banner printed once everything is up gives every address. A port
    that is taken stops the stack with an error naming it (the worker's
    metrics port: the worker says so and the stack stops)."""
    from starter.dev import DevOptions
    from starter.dev import main as dev_main

    try:
        checked_metrics_address = check_metrics_address(metrics_address)
    except ValueError as exc:
        typer.echo(f"--metrics-address: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    settings = _settings(check_packs="dev")
    # The worker runs in its own process (starter/dev.py): it serves its runtime's metrics there
    # (port 0: the one the OS picked, read back for the banner).
    settings = settings.model_copy(update={"worker_metrics_address": checked_metrics_address})
    opts = DevOptions(
        state_dir=state_dir,
        temporal_port=temporal_port,
        ui_port=ui_port,
        bridge_port=bridge_port if bridge_port is not None else settings.bridge_port,
        host=host,
        sandbox_chatwoot_port=sandbox_chatwoot_port,
        sandbox_pagerduty_port=sandbox_pagerduty_port,
        sandbox_slack_port=sandbox_slack_port,
        sandbox_smtp_port=sandbox_smtp_port,
    )
    raise typer.Exit(dev_main(settings, opts))


@app.command()
def worker() -> None:
    """Run one worker (all workflows and activities) until SIGTERM/Ctrl-C.

    Run several for more throughput or availability: start this command on
    more hosts (or several times on one) with the same TEMPORAL_* settings
    and task queue; Temporal spreads tickets over them, and a ticket whose
    worker stops carries on on another. Size each with WORKER_MAX_CACHED_WORKFLOWS
    (open tickets kept in memory, default 10000), WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    WORKER_MAX_CONCURRENT_ACTIVITIES, WORKER_WORKFLOW_TASK_POLLERS and
    WORKER_ACTIVITY_TASK_POLLERS.
    """
    from worker import run_until_signalled

    settings = _settings(metrics=lambda s: s.worker_metrics_address, check_packs=True)
    asyncio.run(run_until_signalled(settings))


@app.command()
def bridge(host: str = typer.Option(None), port: int = typer.Option(None)) -> None:
    """Run the webhook bridge (refuses to start without WEBHOOK_SECRET or WEBHOOK_TOKEN)."""
    import uvicorn

    from client.gateway import TemporalGateway
    from starter.bridge import create_app

    settings = _settings(check_packs=True)
    try:
        application = create_app(settings, TemporalGateway(settings))
    except RuntimeError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    uvicorn.run(
        application,
        host=host or settings.bridge_host,
        port=port if port is not None else settings.bridge_port,
        log_config=None,
        access_log=False,
    )


@app.command()
def setup() -> None:
    """Apply migrations and register search attributes on an existing cluster."""
    from infra import db
    from infra.temporal import connect, register_search_attributes

    settings = _settings(check_packs=True)
    database_url = settings.database_url
    if database_url is None:
        typer.echo("DATABASE_URL: required for setup", err=True)
        raise typer.Exit(EXIT_USAGE)

    async def go() -> None:
        applied = await db.migrate(database_url.get_secret_value())
        typer.echo(f"migrations applied: {applied or 'none (up to date)'}")
        client = await connect(settings)
        added = await register_search_attributes(client, settings.temporal_namespace)
        typer.echo(f"search attributes added: {added or 'none (all present)'}")
        from infra.schedules import ensure_reconcile_schedule

        sid = await ensure_reconcile_schedule(client, settings)
        typer.echo(f"reconciliation schedule: {sid or 'not created (no CHATWOOT_ACCOUNT_ID)'}")

    asyncio.run(go())


@app.command()
def simulate(
    scenario: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Scenario YAML (see README)."
    ),
    format: str = typer.Option("json", "--format", "-f", help="json (one object a line) or table."),
) -> None:
    """Dry-run an SOP: real workflows and policy on the time-skipping server,
    recording stand-ins for Chatwoot and PagerDuty, a real Postgres."""
    from dryrun.scenario import ScenarioError
    from dryrun.simulate import format_json, format_table, simulate_file
    from engine.policy_loader import PolicyError

    if format not in ("json", "table"):
        typer.echo("--format must be json or table", err=True)
        raise typer.Exit(EXIT_USAGE)
    settings = _settings(log_level="warning")
    dsn = settings.database_url.get_secret_value() if settings.database_url else None
    try:
        result = asyncio.run(simulate_file(scenario, settings.policies_dir, dsn))
    except (ScenarioError, PolicyError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(format_json(result) if format == "json" else format_table(result))


@app.command()
def report(
    since: str = typer.Option(
        None, help="Start of the period (ISO 8601 date or instant); default: 7 days ago."
    ),
    until: str = typer.Option(None, help="End of the period (exclusive); default: now."),
    policy: str = typer.Option(None, help="Only this policy pack."),
    format: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Escalation rate (target < 10%) and time to resolve after escalation, per pack."""
    import json as _json
    from datetime import datetime, timedelta

    from rich.console import Console
    from rich.table import Table

    from dryrun.report import escalation_metrics
    from models.durations import format_duration

    settings = _settings(log_level="warning")
    if settings.database_url is None:
        typer.echo("DATABASE_URL: required for report", err=True)
        raise typer.Exit(EXIT_USAGE)

    def instant(text: str | None, default: datetime) -> datetime:
        if not text:
            return default
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            typer.echo(f"not an ISO 8601 date or instant: {text!r}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    now = datetime.now(UTC)
    start, end = instant(since, now - timedelta(days=7)), instant(until, now)
    rows = asyncio.run(
        escalation_metrics(settings.database_url.get_secret_value(), start, end, policy)
    )
    if format == "json":
        typer.echo(
            _json.dumps(
                {
                    "since": start.isoformat(),
                    "until": end.isoformat(),
                    "policies": [r.as_dict() for r in rows],
                },
                indent=2,
            )
        )
        return
    table = Table(
        "policy",
        "opened",
        "escalated",
        "escalation rate",
        "target",
        "resolved after esc.",
        "avg time to resolve after esc.",
        title=f"Escalations {start:%Y-%m-%d} → {end:%Y-%m-%d}",
    )
    for r in rows:
        rate = f"{r.escalation_rate:.1%}" + (
            " [red]over[/red]" if r.escalation_rate >= 0.10 else ""
        )
        avg = (
            format_duration(r.avg_resolve_after_escalation)
            if r.avg_resolve_after_escalation
            else "-"
        )
        table.add_row(
            r.policy,
            str(r.opened),
            str(r.escalated),
            rate,
            "< 10%",
            str(r.resolved_after_escalation),
            avg,
        )
    Console().print(table)


@app.command()
def whatif(
    draft: Path = typer.Argument(
        ..., help="The draft pack (YAML); its `name` picks the recorded tickets."
    ),
    since: str = typer.Option(
        "30d", help="Tickets opened since: 30d, 12h, or an ISO 8601 date or instant."
    ),
    until: str = typer.Option(None, help="Opened before (and drafts run until); default: now."),
    inbox: list[int] = typer.Option(
        None, "--inbox", help="Only tickets of this Chatwoot inbox (repeatable)."
    ),
    out: Path = typer.Option(
        None, "--out", help="Write the page-load heatmap (whatif-heatmap.svg) here."
    ),
    as_json: bool = typer.Option(False, "--json", help="The whole report as JSON."),
    check_driver: bool = typer.Option(
        False,
        "--check-driver",
        help="Also replay the pack in force the draft's way and report where it differs (slower).",
    ),
) -> None:
    """Replay recorded tickets against the pack they ran and against DRAFT, side by side.
    Exit 0: the replay reproduces what happened; 1: it differs from reality; 2: unreadable
    draft, bad arguments or Postgres unreachable."""
    import json as _json
    import os
    from datetime import datetime

    import asyncpg

    from dryrun.heatmap import heatmap_svg
    from dryrun.whatif import parse_since, whatif_dsn
    from dryrun.whatif_report import format_text
    from engine.policy_loader import PolicyError, load_policy_file

    settings = _settings(log_level="warning")
    if settings.database_url is None:
        typer.echo("DATABASE_URL: required for whatif", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        pack = load_policy_file(draft)
    except (PolicyError, OSError) as exc:
        typer.echo(f"draft: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    now = datetime.now(UTC)
    try:
        start, end = parse_since(since, now), parse_since(until, now) if until else now
    except ValueError:
        typer.echo(
            "--since/--until: not 30d, 12h, 90m or an ISO 8601 date or instant: "
            f"{since!r} {until!r}",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE) from None
    try:
        result = asyncio.run(
            whatif_dsn(
                settings.database_url.get_secret_value(),
                pack,
                start,
                end,
                inboxes=inbox or None,
                ui_url=settings.temporal_ui_url,
                namespace=settings.temporal_namespace,
                check_driver=check_driver,
                workers=os.cpu_count() or 1,
            )
        )
    except asyncpg.UndefinedTableError as exc:
        typer.echo(f"Postgres: {exc} (run `ticketflow setup` to apply the migrations)", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        typer.echo(f"Postgres: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    svg_path = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        svg_path = out / "whatif-heatmap.svg"
        svg_path.write_text(
            heatmap_svg(
                result.current.heat, result.draft.heat, pack.timezone, f"draft {pack.version}"
            )
        )
    if as_json:
        typer.echo(
            _json.dumps(
                {**result.as_dict(), "heatmap": str(svg_path) if svg_path else None}, indent=2
            )
        )
    else:
        typer.echo(format_text(result, str(svg_path) if svg_path else None))
    raise typer.Exit(EXIT_FAILURE if result.differences else 0)


from starter import import_cli, operator_cli  # noqa: E402

operator_cli.build(app, lambda: _settings(log_level="warning"))
import_cli.build(app, lambda: _settings(log_level="warning"))

from packtools.cli import pack_app  # noqa: E402  (pack authors' commands: no settings, no Temporal)

app.add_typer(pack_app, name="pack")


def main(argv: list[str] | None = None) -> None:
    """Run the command, then leave without interpreter finalization.

    The Temporal client's native threads can call into Python while the
    interpreter finalizes, which aborts the process (SIGABRT, "PyGILState_Release
    ... finalizing"; temporalio/sdk-python#300) and turns an exit code such as
    3 (refused) into -6 about once in 25 runs. Every command has finished its
    work and closed what it opened by the time the app returns, so flushing
    and exiting at once loses nothing."""
    try:
        app(args=argv if argv is not None else sys.argv[1:], prog_name="ticketflow")
        code: object = 0
    except SystemExit as done:
        code = done.code
    _exit_now(code)


def _exit_now(code: object) -> None:
    import logging
    import os

    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = EXIT_FAILURE
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
