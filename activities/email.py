"""The e-mail activity: a ticket's message over SMTP (aiosmtplib).

`SMTP_URL` names the server: `smtp://[user:password@]host[:port]`
(STARTTLS when the server offers it) or `smtps://...` (TLS from the
start). Each e-mail is plain text plus a short HTML part, with the same
fields as the Slack message, and a `Message-ID` derived from the action
key: every attempt of one action sends the same id, so a copy that does
get through twice is recognisable (and mail clients fold it). An e-mail
whose key is in `channel_messages` was sent: a retry after the server took
it (the activity failing later, a worker dying before it reported) sends
nothing. What SMTP itself cannot tell -- a DATA accepted whose answer was
lost -- is the one case where a second copy, with the same id, can leave.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from html import escape
from urllib.parse import unquote, urlsplit

import aiosmtplib
import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.delivery_metrics import attempt
from activities.slack_blocks import fields
from infra.settings import Settings
from models.channels import ChannelMessage, EmailInput, EmailResult

log = structlog.get_logger(__name__)


def message_id(key: str, sender: str) -> str:
    """`<tf-<40 hex of the key's sha256>@<sender's domain>>`: the same for every attempt."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ticketflow.invalid"
    return f"<tf-{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def compose(
    inp: EmailInput, sender: str, console: str, chatwoot: str | None, web_ui: str
) -> EmailMessage:
    m: ChannelMessage = inp.message
    facts = fields(m)
    if m.status:
        facts.append(("Status", m.status))
    links = [("Console", console), *([("Chatwoot", chatwoot)] if chatwoot else [])]
    links.append(("Temporal Web UI", web_ui))
    plain = "\n".join(
        [m.title, "", m.text, "", *(f"{k}: {v}" for k, v in facts), ""]
        + [f"{k}: {v}" for k, v in links]
    )
    html = (
        f"<p><strong>{escape(m.title)}</strong></p><p>{escape(m.text)}</p><table>"
        + "".join(f"<tr><th align=left>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
        + "</table><p>"
        + " · ".join(f'<a href="{escape(u)}">{escape(k)}</a>' for k, u in links)
        + "</p>"
    )
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = inp.to
    msg["Subject"] = inp.subject.replace("\n", " ")
    msg["Date"] = formatdate(inp.at.timestamp(), localtime=False)
    msg["Message-ID"] = message_id(m.key, sender)
    msg["X-Ticketflow-Ticket"] = m.workflow_id
    msg.set_content(plain)
    msg.add_alternative(html, subtype="html")
    return msg


class EmailActivities:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool

    def _server(self) -> dict:
        if self.settings.smtp_url is None:
            raise ApplicationError(
                "e-mail is not configured (SMTP_URL)", type="EmailNotConfigured", non_retryable=True
            )
        url = urlsplit(self.settings.smtp_url.get_secret_value())
        if url.scheme not in ("smtp", "smtps") or not url.hostname:
            raise ApplicationError(
                "SMTP_URL must be smtp://host[:port] or smtps://host[:port]",
                type="EmailNotConfigured",
                non_retryable=True,
            )
        tls = url.scheme == "smtps"
        return dict(
            hostname=url.hostname,
            port=url.port or (465 if tls else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=tls,
            start_tls=False if tls else None,  # None: STARTTLS when the server offers it
            timeout=10,
        )

    @activity.defn(name="email.send")
    async def send(self, inp: EmailInput) -> EmailResult:
        """The ticket's message to `inp.to`, once per action key."""
        key, sender = inp.message.key, self.settings.email_from
        mid = message_id(key, sender)
        sent = await self.pool.fetchval(
            "SELECT message_id FROM channel_messages WHERE action_key = $1 AND kind = 'email'", key
        )
        if sent is not None:
            log.info("e-mail already sent", key=key, message_id=sent)
            return EmailResult(message_id=sent, deduplicated=True)
        server = self._server()
        s = self.settings
        msg = compose(
            inp,
            sender,
            s.console_link(inp.message.workflow_id),
            s.chatwoot_link(inp.message.account_id, inp.message.conversation_id),
            s.web_ui_link(inp.message.workflow_id),
        )
        async with attempt("email", "send"):
            try:
                await aiosmtplib.send(msg, **server)
            except aiosmtplib.SMTPRecipientsRefused:
                raise ApplicationError(
                    f"SMTP server refused the recipient {inp.to}",
                    type="EmailRejected",
                    non_retryable=True,
                ) from None
            except aiosmtplib.SMTPAuthenticationError:
                raise ApplicationError(
                    "SMTP server refused the credentials in SMTP_URL",
                    type="EmailRejected",
                    non_retryable=True,
                ) from None
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise ApplicationError(
                    f"SMTP send failed: {type(exc).__name__}", type="EmailUnavailable"
                ) from None
        await self.pool.execute(
            "INSERT INTO channel_messages (action_key, kind, message_id) "
            "VALUES ($1, 'email', $2) ON CONFLICT (action_key) DO NOTHING",
            key,
            mid,
        )
        return EmailResult(message_id=mid)
