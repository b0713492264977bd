"""The webhook bridge: Chatwoot (and PagerDuty) webhooks -> ticket workflows;
Slack button clicks -> operator actions (starter/slack_webhook.py).

Chatwoot delivers each webhook once, with a 5-second timeout and no retry,
so the only work on the request path is one Temporal call (a start or a
signal-with-start with `id_conflict_policy=USE_EXISTING`, so a redelivery
or a message for a conversation whose creation webhook was lost still lands
on the one ticket). Answers:

- 202 `{"status": "accepted", ...}` once Temporal has the event;
- 202 `{"status": "ignored", "reason": ...}` for events ticketflow does not use;
- 400/401/413/415/422 with `{"error": ...}` for bad input, nothing started;
- 503 when Temporal cannot be reached or does not answer within
  `starter.delivery.REQUEST_BUDGET` (3 s), so the caller can tell.
"""

from __future__ import annotations

from typing import Any, cast

import structlog
from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from temporalio.service import RPCError

from client.gateway import TemporalGateway, TemporalUnavailable
from console import mount_console
from console.whatif import build_whatif_router
from infra.settings import Settings
from infra.version import version
from models.chatwoot import INT4_MAX
from starter import bridge_metrics, signatures
from starter.chatwoot_events import Ignored, WebhookError, route
from starter.delivery import (
    NoRunningTicket,
    RejectedByTemporal,
    TicketClosed,
    deliver,
    signal_page_update,
)
from starter.pagerduty_events import route_pagerduty
from starter.slack_webhook import SlackWebhook
from starter.webhook_body import MalformedBody, parse_json

log = structlog.get_logger(__name__)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_capped_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


class _BodyTooLarge(Exception):
    pass


def create_app(settings: Settings, gateway: TemporalGateway, *, dev_mode: bool = False) -> FastAPI:
    """Build the bridge. Outside dev mode, refuse to start unauthenticated."""
    if not (settings.webhook_secret or settings.webhook_token):
        if not dev_mode:
            raise RuntimeError(
                "refusing to start: set WEBHOOK_SECRET (Chatwoot >= 4.12 signed webhooks) "
                "or WEBHOOK_TOKEN (older Chatwoot, shared token); "
                "only `ticketflow dev` accepts unsigned webhooks"
            )
        log.warning(
            "accepting UNSIGNED Chatwoot webhooks "
            "(dev mode, no WEBHOOK_SECRET or WEBHOOK_TOKEN set)"
        )

    app = FastAPI(
        title="ticketflow webhook bridge", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.gateway = gateway
    bridge_metrics.install(app)  # GET /metrics: webhooks by event and status, latency, 503s

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        return _error(422, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")

    running = version()  # in both answers: a rollout can tell which code answers, up or not

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        if await gateway.healthy():
            return JSONResponse(
                {"status": "ok", "temporal": settings.temporal_address, "version": running}
            )
        return JSONResponse(
            {"status": "unavailable", "error": "cannot reach Temporal", "version": running},
            status_code=503,
        )

    seen = signatures.SeenSignatures()

    def authenticate(request: Request, body: bytes) -> None:
        if settings.webhook_secret:
            signatures.verify_chatwoot(
                settings.webhook_secret.get_secret_value(),
                body,
                request.headers.get("x-chatwoot-timestamp"),
                request.headers.get("x-chatwoot-signature"),
            )
        elif settings.webhook_token:
            given = request.query_params.get("token") or request.headers.get("x-ticketflow-token")
            signatures.verify_token(settings.webhook_token.get_secret_value(), given)

    async def handle_chatwoot(request: Request, account_id: int | None) -> JSONResponse:
        ctype = request.headers.get("content-type", "")
        if "json" not in ctype:
            return _error(415, "content-type must be application/json")
        try:
            body = await read_capped_body(request, settings.webhook_max_body_bytes)
        except _BodyTooLarge:
            return _error(413, f"body larger than {settings.webhook_max_body_bytes} bytes")
        try:
            authenticate(request, body)
        except signatures.SignatureError as exc:
            log.warning("webhook rejected", reason=str(exc))
            return _error(401, str(exc))
        signature = request.headers.get("x-chatwoot-signature") if settings.webhook_secret else None
        if signature is not None and not seen.claim(signature):
            log.warning("webhook rejected", reason="replayed signed delivery")
            return _error(401, "this signed delivery was already received (replay)")
        response = await handle_authentic(body, account_id)
        if signature is not None and response.status_code >= 500:
            seen.release(signature)  # not processed: the sender may try again
        return response

    async def handle_authentic(body: bytes, account_id: int | None) -> JSONResponse:
        try:
            payload = parse_json(body)
        except MalformedBody as exc:
            return _error(400, str(exc))
        try:
            decision = route(
                payload,
                account_id=account_id or settings.chatwoot_account_id,
                policy_for_inbox=settings.policy_for_inbox,
            )
        except WebhookError as exc:
            return _error(422, str(exc))
        if isinstance(decision, Ignored):
            return JSONResponse({"status": "ignored", "reason": decision.reason}, status_code=202)
        try:
            run_id = await deliver(gateway, decision, settings.temporal_task_queue)
        except TemporalUnavailable as exc:
            return _error(503, str(exc))
        except (NoRunningTicket, TicketClosed) as exc:
            return JSONResponse({"status": "ignored", "reason": str(exc)}, status_code=202)
        except RejectedByTemporal as exc:
            return _error(400, str(exc))
        except RPCError as exc:
            log.error(
                "temporal refused the event", workflow_id=decision.workflow_id, error=str(exc)
            )
            return _error(
                503, f"temporal refused the event: {exc.status.name if exc.status else 'error'}"
            )
        log.info(
            "webhook delivered",
            chatwoot_event=cast(dict[str, Any], payload).get("event"),  # route() took an object
            workflow_id=decision.workflow_id,
            signal=decision.signal,
        )
        return JSONResponse(
            {
                "status": "accepted",
                "workflow_id": decision.workflow_id,
                "run_id": run_id,
                "signal": decision.signal,
            },
            status_code=202,
        )

    @app.post("/webhooks/pagerduty")
    async def pagerduty(request: Request) -> JSONResponse:
        """PagerDuty V3 webhooks: an ack or resolve in PagerDuty stops the ladder."""
        try:
            body = await read_capped_body(request, settings.webhook_max_body_bytes)
        except _BodyTooLarge:
            return _error(413, f"body larger than {settings.webhook_max_body_bytes} bytes")
        if settings.pagerduty_webhook_secret:
            try:
                signatures.verify_pagerduty(
                    settings.pagerduty_webhook_secret.get_secret_value(),
                    body,
                    request.headers.get("x-pagerduty-signature"),
                )
            except signatures.SignatureError as exc:
                return _error(401, str(exc))
        elif not dev_mode:
            return _error(
                401, "PagerDuty webhooks are not configured: set PAGERDUTY_WEBHOOK_SECRET"
            )
        try:
            decision = route_pagerduty(parse_json(body))
        except MalformedBody as exc:
            return _error(400, str(exc))
        except WebhookError as exc:
            return _error(422, str(exc))
        if isinstance(decision, Ignored):
            return JSONResponse({"status": "ignored", "reason": decision.reason}, status_code=202)
        try:
            await signal_page_update(gateway, decision.workflow_id, decision.update)
        except TemporalUnavailable as exc:
            return _error(503, str(exc))
        except NoRunningTicket as exc:
            return JSONResponse({"status": "ignored", "reason": str(exc)}, status_code=202)
        except RejectedByTemporal as exc:
            return _error(400, str(exc))
        except RPCError as exc:
            return _error(
                503, f"temporal refused the event: {exc.status.name if exc.status else 'error'}"
            )
        log.info(
            "pagerduty webhook delivered",
            workflow_id=decision.workflow_id,
            status=decision.update.status,
        )
        return JSONResponse(
            {"status": "accepted", "workflow_id": decision.workflow_id}, status_code=202
        )

    slack_clicks = SlackWebhook(settings, gateway)

    @app.post("/webhooks/slack")
    async def slack(request: Request) -> JSONResponse:
        """Slack button clicks (Acknowledge, Take it, Escalate), signed by Slack."""
        try:
            body = await read_capped_body(request, settings.webhook_max_body_bytes)
        except _BodyTooLarge:
            return _error(413, f"body larger than {settings.webhook_max_body_bytes} bytes")
        return await slack_clicks.handle(request, body)

    @app.post("/webhooks/chatwoot")
    async def chatwoot(request: Request) -> JSONResponse:
        return await handle_chatwoot(request, None)

    @app.post("/webhooks/chatwoot/{account_id}")
    async def chatwoot_account(
        request: Request, account_id: int = Path(ge=1, le=INT4_MAX)
    ) -> JSONResponse:
        return await handle_chatwoot(request, account_id)

    mount_console(app, settings, gateway, dev_mode=dev_mode)  # the operator console at /console
    app.include_router(build_whatif_router())  # /console/whatif: a draft pack on recorded tickets
    return app
