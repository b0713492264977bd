"""`POST /webhooks/slack`: Slack's interactivity requests (button clicks).

Verified first (starter/signatures.verify_slack: the signing secret, a
five-minute window; a signature already taken is a replay): anything else
gets 401 and changes nothing. A verified click is applied by
starter/slack_actions.py's rules through console/actions.perform, the
console's own path. Slack wants an answer within three seconds; a ticket
answers an update as soon as its worker takes it (it never waits for
Chatwoot, PagerDuty or Slack), so the click is applied before answering.
What the clicking person should know (not on the rota, refused) is said to
them alone (`chat.postEphemeral`).
"""

from __future__ import annotations

import httpx
import structlog
from fastapi import Request
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.slack_api import SlackApi
from client.gateway import TemporalGateway, TemporalUnavailable
from console.actions import perform
from console.board import QUERY_TIMEOUT
from console.packs import Packs
from infra.settings import Settings
from starter import signatures
from starter.slack_actions import NOT_ON_ROTA, Click, ClickError, form_values, parse_click, party_of
from workflows.ticket import TicketWorkflow

log = structlog.get_logger(__name__)


def _answer(code: int, **body: str) -> JSONResponse:
    return JSONResponse(body, status_code=code)


class SlackWebhook:
    def __init__(self, settings: Settings, gateway: TemporalGateway) -> None:
        self.settings = settings
        self.gateway = gateway
        self.packs = Packs(settings.policies_dir)
        self.seen = signatures.SeenSignatures()

    async def handle(self, request: Request, body: bytes) -> JSONResponse:
        secret = self.settings.slack_signing_secret
        if secret is None:
            return _answer(401, error="Slack is not configured: set SLACK_SIGNING_SECRET")
        signature = request.headers.get("x-slack-signature")
        try:
            signatures.verify_slack(
                secret.get_secret_value(),
                body,
                request.headers.get("x-slack-request-timestamp"),
                signature,
            )
        except signatures.SignatureError as exc:
            log.warning("slack request rejected", reason=str(exc))
            return _answer(401, error=str(exc))
        assert signature is not None  # verify_slack refuses a request without one
        if not self.seen.claim(signature):
            log.warning("slack request rejected", reason="replayed signed request")
            return _answer(401, error="this signed request was already received (replay)")
        try:
            click = parse_click(body)
        except ClickError as exc:
            return _answer(400, error=str(exc))
        response = await self.apply(click)
        if response.status_code >= 500:
            self.seen.release(signature)  # not processed: Slack (or the person) may try again
        return response

    async def apply(self, click: Click) -> JSONResponse:
        try:
            client = await self.gateway.client()
            status = await client.get_workflow_handle(click.workflow_id).query(
                TicketWorkflow.status, rpc_timeout=QUERY_TIMEOUT
            )
        except TemporalUnavailable as exc:
            return _answer(503, error=str(exc))
        except (WorkflowQueryFailedError, WorkflowQueryRejectedError, RPCError):
            await self.tell(click, f"Ticket {click.workflow_id} is not running any more.")
            return _answer(200, status="ignored", reason="no running ticket")
        party = party_of(self.packs.get(status.policy), click.user)
        if party is None:
            log.info("slack click from someone not on the rota", workflow_id=click.workflow_id)
            await self.tell(click, NOT_ON_ROTA)
            return _answer(200, status="ignored", reason="not on this rota")
        out = await perform(
            client,
            click.workflow_id,
            click.action,
            party,
            form_values(click, party),
            self.packs,
            status.policy,
            source="slack",
        )
        if out.error:
            await self.tell(click, f"Not done: {out.error}")
            return _answer(200, status="refused", error=out.error)
        log.info(
            "slack click applied", workflow_id=click.workflow_id, action=click.action, by=party
        )
        return _answer(200, status="accepted", workflow_id=click.workflow_id, by=party)

    async def tell(self, click: Click, text: str) -> None:
        """A message only the clicking person sees; never fails the request."""
        if click.channel is None or self.settings.slack_bot_token is None:
            return
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as http:
                await SlackApi(http, self.settings).ephemeral(click.channel, click.user, text)
        except ApplicationError as exc:
            log.warning("slack ephemeral message failed", error=exc.message)
