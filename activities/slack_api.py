"""Slack Web API calls: `{SLACK_API_URL}/<method>`, the bot token in
`Authorization: Bearer` (never in a log, history or error).

Slack answers most failures with HTTP 200 and `{"ok": false, "error":
...}`: the errors no retry can fix (an unknown channel, a bad token, a
refused block) are non-retryable, the rest (rate limits, Slack's own
trouble) are retried, honouring Retry-After. Used by the activities and by
the bridge (a click's private answer, `chat.postEphemeral`).
"""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

from activities.delivery_metrics import attempt
from activities.http_errors import raise_for
from infra.settings import Settings

# Slack's `error` codes that retrying cannot fix.
FINAL_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "invalid_arguments",
        "invalid_arg_name",
        "restricted_action",
    }
)


class SlackApi:
    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http = http
        self.api = str(settings.slack_api_url).rstrip("/")
        self._token = settings.slack_bot_token

    async def call(self, method: str, body: dict[str, Any] | None = None, **query: Any) -> dict:
        """One Web API method: JSON POST with `body`, or GET with `query`."""
        if self._token is None:
            raise ApplicationError(
                "Slack is not configured (SLACK_BOT_TOKEN)",
                type="SlackNotConfigured",
                non_retryable=True,
            )
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        url = f"{self.api}/{method}"
        async with attempt("slack", method):
            try:
                if body is None:
                    resp = await self.http.get(url, params=query, headers=headers)
                else:
                    resp = await self.http.post(url, json=body, headers=headers)
            except httpx.TimeoutException:
                raise ApplicationError(f"Slack {method} timed out", type="SlackTimeout") from None
            except httpx.TransportError as exc:
                raise ApplicationError(
                    f"Slack {method}: {type(exc).__name__}", type="SlackUnavailable"
                ) from None
            raise_for("Slack", resp)
            answer = resp.json()
            if not answer.get("ok"):
                error = str(answer.get("error") or "unknown_error")
                raise ApplicationError(
                    f"Slack {method}: {error}",
                    type="SlackRejected" if error in FINAL_ERRORS else "SlackError",
                    non_retryable=error in FINAL_ERRORS,
                )
            return answer

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        """A message only `user` sees (chat.postEphemeral)."""
        await self.call("chat.postEphemeral", {"channel": channel, "user": user, "text": text})
