"""A lazily connected, health-checked Temporal client for long-running
front doors (the bridge): it starts even when Temporal is down, answers
503 until it can reach it, and reconnects after an outage."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from temporalio.client import Client

from engine.board import conversation_url, static_details, static_summary
from infra.settings import Settings
from infra.temporal import connect
from models.ticket_card import TicketCard
from models.ticket_input import TicketInput

log = structlog.get_logger(__name__)


class TemporalUnavailable(RuntimeError):
    pass


def for_web_ui(
    ticket: TicketInput, chatwoot_base_url: object | None
) -> tuple[TicketInput, dict[str, Any]]:
    """The ticket with its Chatwoot conversation link, and the start options
    that make lists of tickets readable: `static_summary` / `static_details`
    for the Web UI's workflow list (`VIP · Jane Doe · vip-concierge`) and the
    `memo` the console board reads with every visibility list (who and what,
    models/ticket_card.py). Every place that starts a ticket (bridge,
    reconciliation, simulate, the bench) passes them."""
    url = conversation_url(
        str(chatwoot_base_url) if chatwoot_base_url else None,
        ticket.account_id,
        ticket.conversation_id,
    )
    if url and not ticket.conversation_url:
        ticket = ticket.model_copy(update={"conversation_url": url})
    return ticket, {
        "static_summary": static_summary(ticket),
        "static_details": static_details(ticket),
        "memo": TicketCard.of(ticket).memo(),
    }


class TemporalGateway:
    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self, timeout: float = 5.0) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self.settings), timeout)
                except Exception as exc:  # connection refused, TLS, timeout...
                    raise TemporalUnavailable(
                        f"cannot reach Temporal at {self.settings.temporal_address}: "
                        f"{type(exc).__name__}"
                    ) from None
                log.info("connected to temporal", address=self.settings.temporal_address)
        return self._client

    async def healthy(self) -> bool:
        try:
            client = await self.client(timeout=2.0)
            return await asyncio.wait_for(client.service_client.check_health(), 2.0)
        except Exception:
            return False
