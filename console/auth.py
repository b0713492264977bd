"""Who is acting in the console.

Outside dev, an operator logs in with a token from CONSOLE_OPERATORS (token
-> party id of the packs) and gets a signed, HttpOnly, SameSite=Lax cookie
(Secure when the request came over https) naming the party; every action
is sent with that party as `by`. Tokens are compared in constant time and
never logged or echoed; failed logins are throttled (console/throttle.py).
The signing key is derived from the configured tokens, so removing or
rotating a token ends every session, and several bridge processes with the
same settings accept each other's cookies. Lax is enough for the Chatwoot
Dashboard App: its frame is same-site with Chatwoot (docs/operating.md), and
a same-site frame gets Lax cookies.

Under `ticketflow dev` there is no login: the operator picks who they are
from the packs' people, and every page says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from fastapi import Request

from infra.settings import Settings, SettingsError

COOKIE = "ticketflow_console"
SESSION_SECONDS = 12 * 3600  # one shift


@dataclass(frozen=True)
class Operator:
    party: str


def parse_operators(settings: Settings) -> dict[str, str]:
    """CONSOLE_OPERATORS as {token: party}; a SettingsError names the setting (never a token)."""
    if settings.console_operators is None:
        return {}
    raw = settings.console_operators.get_secret_value()
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"invalid settings:\n  CONSOLE_OPERATORS: not JSON ({exc.msg})"
        ) from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()
    ):
        raise SettingsError(
            "invalid settings:\n  CONSOLE_OPERATORS: must be a JSON object of token -> party id"
        )
    short = [party for token, party in value.items() if len(token) < 16]
    if short:
        raise SettingsError(
            f"invalid settings:\n  CONSOLE_OPERATORS: the token of {', '.join(sorted(short))} "
            "is shorter than 16 characters"
        )
    return value


class Sessions:
    """Signs and checks the session cookie."""

    def __init__(self, operators: dict[str, str], *, dev_mode: bool) -> None:
        self._operators = operators
        self.dev_mode = dev_mode
        if operators:
            material = "\n".join(sorted(f"{t}\t{p}" for t, p in operators.items())).encode()
            self._key = hashlib.sha256(b"ticketflow-console-session\0" + material).digest()
        else:
            self._key = secrets.token_bytes(32)  # dev: sessions last as long as the process

    @property
    def enabled(self) -> bool:
        return bool(self._operators) or self.dev_mode

    def login(self, token: str) -> Operator | None:
        """The operator a token belongs to, compared in constant time."""
        found = None
        for known, party in self._operators.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = party
        return Operator(found) if found else None

    def cookie_for(self, op: Operator, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + SESSION_SECONDS)
        body = (
            base64.urlsafe_b64encode(json.dumps([op.party, expires]).encode()).decode().rstrip("=")
        )
        return f"{body}.{self._sign(body)}"

    def operator(self, request: Request) -> Operator | None:
        value = request.cookies.get(COOKIE)
        if not value or "." not in value:
            return None
        body, sig = value.rsplit(".", 1)
        if not hmac.compare_digest(sig, self._sign(body)):
            return None
        try:
            party, expires = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, TypeError):
            return None
        if not isinstance(party, str) or not isinstance(expires, int) or expires < time.time():
            return None
        return Operator(party)

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
