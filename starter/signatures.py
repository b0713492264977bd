"""Webhook authenticity checks, on the raw request bytes, in constant time.

- Chatwoot >= 4.12: `X-Chatwoot-Timestamp` and `X-Chatwoot-Signature:
  sha256=<hex HMAC-SHA256(secret, "{timestamp}.{raw body}")>`; timestamps
  older than five minutes are refused (replay protection).
- Older Chatwoot signs nothing: a shared token, in the `token` query
  parameter or the `X-Ticketflow-Token` header, configured explicitly.
- A signed Chatwoot delivery is accepted once: Chatwoot never redelivers, so
  the same signature seen again inside the window is a replay (401).
  `SeenSignatures` remembers them per bridge process for the window's span.
- Slack interactivity (button clicks): `X-Slack-Request-Timestamp` and
  `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:{ts}:{raw
  body}")>`, five-minute window; the bridge refuses a signature seen before
  (`SeenSignatures`), as for Chatwoot.
- PagerDuty V3 webhooks: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256(secret,
  raw body)>`, possibly several comma-separated (during secret rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict

MAX_SKEW_SECONDS = 300


class SignatureError(Exception):
    """The request is not authentic; the message says why (never the secret)."""


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_chatwoot(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers Chatwoot would send for `body` (used by tests and the sandbox)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Chatwoot-Timestamp": ts,
        "X-Chatwoot-Signature": "sha256=" + _hmac_hex(secret, ts.encode() + b"." + body),
    }


def verify_chatwoot(
    secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float | None = None
) -> None:
    if not timestamp or not signature:
        raise SignatureError("missing X-Chatwoot-Timestamp or X-Chatwoot-Signature header")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError("X-Chatwoot-Timestamp is not a unix timestamp") from None
    current = time.time() if now is None else now
    if abs(current - ts) > MAX_SKEW_SECONDS:
        raise SignatureError("stale or future X-Chatwoot-Timestamp (more than 5 minutes off)")
    expected = "sha256=" + _hmac_hex(secret, timestamp.encode() + b"." + body)
    if not hmac.compare_digest(expected, signature.strip()):
        raise SignatureError("X-Chatwoot-Signature does not match the body")


class SeenSignatures:
    """Signatures of accepted deliveries, kept as long as their timestamp
    could pass the skew check (past or future: twice the window).

    Memory is bounded (`capacity` entries, about 150 bytes each); past it the
    oldest are forgotten first. Per process: with several bridges behind a
    load balancer a replay sent to another bridge is not caught (it still
    reaches the same ticket run and starts nothing new: starts reuse the
    running ticket and signals carry event ids)."""

    def __init__(self, span_seconds: float = 2 * MAX_SKEW_SECONDS, capacity: int = 100_000) -> None:
        self.span = span_seconds
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    def claim(self, signature: str, now: float | None = None) -> bool:
        """True the first time a signature is seen; False for a replay."""
        current = time.monotonic() if now is None else now
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if current - at <= self.span and len(self._seen) < self.capacity:
                break
            del self._seen[oldest]
        key = signature.strip()
        if key in self._seen:
            return False
        self._seen[key] = current
        return True

    def release(self, signature: str) -> None:
        """Forget a delivery that was not processed (answered 5xx), so the
        sender may send it again."""
        self._seen.pop(signature.strip(), None)


def verify_token(expected: str, given: str | None) -> None:
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise SignatureError("missing or wrong webhook token")


def sign_pagerduty(secret: str, body: bytes) -> str:
    return "v1=" + _hmac_hex(secret, body)


def verify_pagerduty(secret: str, body: bytes, header: str | None) -> None:
    if not header:
        raise SignatureError("missing X-PagerDuty-Signature header")
    expected = "v1=" + _hmac_hex(secret, body)
    if not any(hmac.compare_digest(expected, part.strip()) for part in header.split(",")):
        raise SignatureError("X-PagerDuty-Signature does not match the body")


def sign_slack(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack would send for `body` (used by tests and the sandbox)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + _hmac_hex(secret, base)}


def verify_slack(
    secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float | None = None
) -> None:
    """Slack's v0 request signature: `v0=<hex HMAC-SHA256(secret, "v0:{ts}:{raw body}")>`,
    the timestamp within five minutes (replays of older requests refused)."""
    if not timestamp or not signature:
        raise SignatureError("missing X-Slack-Request-Timestamp or X-Slack-Signature header")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError("X-Slack-Request-Timestamp is not a unix timestamp") from None
    current = time.time() if now is None else now
    if abs(current - ts) > MAX_SKEW_SECONDS:
        raise SignatureError("stale or future X-Slack-Request-Timestamp (more than 5 minutes off)")
    expected = "v0=" + _hmac_hex(secret, b"v0:" + timestamp.encode() + b":" + body)
    if not hmac.compare_digest(expected, signature.strip()):
        raise SignatureError("X-Slack-Signature does not match the body")
