"""PagerDuty Events API v2 activity: trigger, acknowledge, resolve.

The dedup key (stable per ticket and ladder step) makes a retried trigger
the same alert. The routing key is looked up here, by the name the policy
gives, so it never enters workflow history, logs or error messages.

A trigger links first to the console's ticket page, where the person paged
can act (acknowledge, take the ticket, escalate), when PUBLIC_URL is set;
then to the ticket's history in the Temporal Web UI (read-only) and to the
Chatwoot conversation. The console link is in its `custom_details` too
(`console`), for the integrations that show details but not links.
"""

from __future__ import annotations

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.delivery_metrics import attempt
from activities.http_errors import raise_for
from infra.links import console_ticket_url
from infra.settings import Settings
from models.pagerduty import PagerDutyEventInput, PagerDutyEventResult


class PagerDutyActivities:
    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings
        self.url = str(settings.pagerduty_events_url).rstrip("/") + "/v2/enqueue"

    def _links(self, inp: PagerDutyEventInput) -> list[dict[str, str]]:
        s = self.settings
        links = []
        console = console_ticket_url(s, inp.workflow_id)
        if console:
            links.append({"href": console, "text": "Open the ticket in the console (act here)"})
        if inp.workflow_id:
            links.append(
                {
                    "href": f"{s.temporal_ui_url.rstrip('/')}/namespaces/"
                    f"{s.temporal_namespace}/workflows/{inp.workflow_id}",
                    "text": "Ticket history (Temporal Web UI, read-only)",
                }
            )
        if s.chatwoot_base_url and inp.account_id and inp.conversation_id:
            links.append(
                {
                    "href": f"{str(s.chatwoot_base_url).rstrip('/')}/app/accounts/{inp.account_id}/"
                    f"conversations/{inp.conversation_id}",
                    "text": "Chatwoot conversation",
                }
            )
        return links

    def _details(self, inp: PagerDutyEventInput) -> dict:
        console = console_ticket_url(self.settings, inp.workflow_id)
        return {**inp.custom_details, "console": console} if console else inp.custom_details

    @activity.defn(name="pagerduty.send_event")
    async def send_event(self, inp: PagerDutyEventInput) -> PagerDutyEventResult:
        async with attempt("pagerduty", inp.event_action):
            return await self._send_event(inp)

    async def _send_event(self, inp: PagerDutyEventInput) -> PagerDutyEventResult:
        key = self.settings.routing_key_for(inp.routing_key_name)
        if key is None:
            raise ApplicationError(
                f"no PagerDuty routing key for {inp.routing_key_name or 'default'!r} "
                "(set PAGERDUTY_ROUTING_KEYS or PAGERDUTY_ROUTING_KEY)",
                type="PagerDutyNotConfigured",
                non_retryable=True,
            )
        event: dict = {
            "routing_key": key.get_secret_value(),
            "event_action": inp.event_action,
            "dedup_key": inp.dedup_key,
        }
        if inp.event_action == "trigger":
            event["payload"] = {
                "summary": inp.summary[:1024] or inp.dedup_key,
                "source": inp.source,
                "severity": inp.severity,
                "custom_details": self._details(inp),
            }
            event["links"] = self._links(inp)
            event["client"] = "ticketflow"
        try:
            resp = await self.http.post(self.url, json=event)
        except httpx.TimeoutException:
            raise ApplicationError("PagerDuty enqueue timed out", type="PagerDutyTimeout") from None
        except httpx.TransportError as exc:
            raise ApplicationError(
                f"PagerDuty enqueue: {type(exc).__name__}", type="PagerDutyUnavailable"
            ) from None
        raise_for("PagerDuty", resp)
        body = resp.json()
        return PagerDutyEventResult(
            status=str(body.get("status", "success")),
            dedup_key=body.get("dedup_key", inp.dedup_key),
        )
