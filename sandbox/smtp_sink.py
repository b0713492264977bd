"""A local SMTP sink (aiosmtpd): takes every e-mail, delivers none.

Used by `ticketflow dev` when `SMTP_URL` is unset, and by the tests. It
speaks SMTP as a server does (aiosmtpd refuses malformed commands and
addresses) and refuses a recipient without a domain (550), as a relay
would. Each message accepted is kept, parsed: sender, recipients,
`Message-ID`, subject, its plain-text part and whether it has an HTML
part. `mount(app)` shows them at `/_sandbox/email/messages` of a stand-in.
"""

from __future__ import annotations

import asyncio
import socket
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if "@" not in address or not address.rpartition("@")[2]:
            return "550 5.1.1 recipient address without a domain"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        msg = message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=default)
        assert isinstance(msg, EmailMessage)
        plain = msg.get_body(preferencelist=("plain",))
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "message_id": msg["Message-ID"],
                "subject": msg["Subject"],
                "text": plain.get_content() if plain is not None else "",
                "html": msg.get_body(preferencelist=("html",)) is not None,
            }
        )
        return "250 Message accepted for delivery"

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
    ) -> SmtpSink:
        loop = asyncio.get_running_loop()

        def factory() -> SMTP:
            return SMTP(self, hostname="ticketflow-smtp-sink")

        if sock is not None:
            self._server = await loop.create_server(factory, sock=sock)
        else:
            self._server = await loop.create_server(factory, host=host, port=port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def mount(self, app: FastAPI) -> None:
        @app.get("/_sandbox/email/messages")
        async def messages() -> list[dict[str, Any]]:
            return self.messages
