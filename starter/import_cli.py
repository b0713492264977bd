"""`ticketflow import chatwoot`: past conversations recorded for `whatif`
(starter/import_chatwoot.py). Exit 0 done (whatever was skipped, with why),
1 Chatwoot failed, 2 bad settings or arguments, or Postgres unreachable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime

import typer

from infra.settings import Settings

EXIT_FAILURE = 1
EXIT_USAGE = 2


def build(app: typer.Typer, settings_factory: Callable[[], Settings]) -> None:
    import_app = typer.Typer(no_args_is_help=True, help="Record past conversations for `whatif`.")
    app.add_typer(import_app, name="import")

    @import_app.command()
    def chatwoot(
        since: str = typer.Option(
            "30d", help="Conversations active since: 30d, 12h, or an ISO 8601 date or instant."
        ),
        inbox: list[int] = typer.Option(
            None, "--inbox", help="Only conversations of this Chatwoot inbox (repeatable)."
        ),
        policy: str = typer.Option(
            None, "--policy", help="Only conversations whose inbox runs this pack."
        ),
        as_json: bool = typer.Option(False, "--json", help="The report as JSON."),
    ) -> None:
        """Read past conversations and their messages through Chatwoot's API and
        record them as ticket inputs (no message bodies), so `whatif` runs a draft
        pack on them; reports what it imported and what it skipped and why."""
        from dryrun.whatif import parse_since

        settings = settings_factory()
        missing = [
            name
            for name, value in (
                ("DATABASE_URL", settings.database_url),
                ("CHATWOOT_BASE_URL", settings.chatwoot_base_url),
                ("CHATWOOT_ACCOUNT_ID", settings.chatwoot_account_id),
                ("CHATWOOT_API_TOKEN", settings.chatwoot_api_token),
            )
            if not value
        ]
        if missing:
            typer.echo(f"{', '.join(missing)}: required for import chatwoot", err=True)
            raise typer.Exit(EXIT_USAGE)
        try:
            start = parse_since(since, datetime.now(UTC))
        except ValueError:
            typer.echo(f"--since: not 30d, 12h, 90m or an ISO 8601 instant: {since!r}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        report = asyncio.run(_run(settings, start, inbox or None, policy))
        typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.text())


async def _run(settings: Settings, since: datetime, inboxes: list[int] | None, policy: str | None):
    import asyncpg
    import httpx
    from temporalio.exceptions import ApplicationError

    from activities.chatwoot import ChatwootActivities
    from starter.import_chatwoot import Importer

    assert settings.database_url is not None and settings.chatwoot_account_id is not None
    try:
        conn = await asyncpg.connect(settings.database_url.get_secret_value())
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        typer.echo(f"Postgres: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
            importer = Importer(
                ChatwootActivities(http, settings),
                conn,
                settings,
                account_id=settings.chatwoot_account_id,
                inboxes=inboxes,
                policy=policy,
            )
            return await importer.run(since)
    except ApplicationError as exc:  # the conversation list itself could not be read
        typer.echo(f"Chatwoot: {exc}", err=True)
        raise typer.Exit(EXIT_FAILURE) from None
    except asyncpg.UndefinedTableError as exc:
        typer.echo(f"Postgres: {exc} (run `ticketflow setup` to apply the migrations)", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        await conn.close()
