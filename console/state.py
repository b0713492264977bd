"""What the console's pages share: the `Console` object that holds the
settings, the bridge's Temporal gateway, a lazily opened Postgres pool for
audit rows, the packs, the sessions, the caches and the login throttle,
and the Jinja2 templates with their globals. One is made per bridge app
(console/routes.py `mount_console`) and every page handler reads it.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import structlog
from fastapi.templating import Jinja2Templates

from client.gateway import TemporalGateway
from client.tickets import age, chatwoot_link, next_deadline, time_left, ui_link, when
from console.auth import Sessions, parse_operators
from console.board import StatusCache, TtlCache
from console.packs import Packs, escalation_form
from console.security import origin_of
from console.throttle import LoginThrottle
from infra import db
from infra.settings import Settings
from infra.version import version

log = structlog.get_logger(__name__)
HERE = Path(__file__).resolve().parent
AUDIT_ROWS = 50


class Console:
    """What the pages share: settings, the bridge's Temporal gateway, a lazily
    opened Postgres pool for audit rows, the packs, the sessions and the
    login throttle (replace `throttle` to give it another clock)."""

    def __init__(self, settings: Settings, gateway: TemporalGateway, *, dev_mode: bool) -> None:
        self.settings = settings
        self.gateway = gateway
        self.dev_mode = dev_mode
        self.sessions = Sessions(parse_operators(settings), dev_mode=dev_mode)
        self.packs = Packs(settings.policies_dir)
        self.statuses = StatusCache()
        self.counts: TtlCache[int] = TtlCache()
        self.throttle = LoginThrottle()
        self.chatwoot_origin = origin_of(settings.chatwoot_base_url)
        self._pool: asyncpg.Pool | None = None
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals.update(
            time_left=time_left,
            when=when,
            ui_link=lambda wid: ui_link(settings, wid),
            chatwoot_link=lambda wid: chatwoot_link(settings, wid),
            next_deadline=next_deadline,
            dev_mode=dev_mode,
            escalation_form_for=escalation_form,
            age=age,
            version=version(),
        )

    async def pool(self) -> asyncpg.Pool | None:
        if self._pool is None and self.settings.database_url is not None:
            self._pool = await db.create_pool(
                self.settings.database_url.get_secret_value(), min_size=0, max_size=4
            )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def audit_rows(self, wid: str) -> tuple[list[dict], str | None]:
        try:
            pool = await self.pool()
            if pool is None:
                return [], "no DATABASE_URL: audit rows are not available"
            rows = await pool.fetch(
                "SELECT action, target, details, at_time FROM ticket_events WHERE workflow_id = $1 "
                "ORDER BY at_time DESC, id DESC LIMIT $2",
                wid,
                AUDIT_ROWS,
            )
            return [dict(r) for r in rows], None
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("console: audit rows unavailable", error=type(exc).__name__)
            return [], f"audit rows unavailable ({type(exc).__name__})"
