"""Where people go to act on a ticket: the console's ticket page at the
address the bridge is reached at (PUBLIC_URL). Pages and private notes
carry it (activities/pagerduty.py, activities/chatwoot.py), so it is built
from settings in the activities, never in workflow code."""

from __future__ import annotations

from urllib.parse import quote

from infra.settings import Settings

CONSOLE_TICKETS = "/console/tickets/"  # the console's ticket page (console/ticket_routes.py)


def console_ticket_url(settings: Settings, workflow_id: str | None) -> str | None:
    """`https://ticketflow.example.com/console/tickets/ticket-1-42`; None when
    PUBLIC_URL is unset or there is no ticket."""
    if settings.public_url is None or not workflow_id:
        return None
    base = str(settings.public_url).rstrip("/")
    return f"{base}{CONSOLE_TICKETS}{quote(workflow_id, safe='')}"
