"""The bridge's `/metrics` (Prometheus text format, prometheus-client).

Chatwoot gives up on a webhook after 5 seconds and never retries, so what
on-call needs from the bridge is: how many webhooks arrived, of which
event, how each was answered, how long it took, and how many got 503
(Temporal unreachable: events Chatwoot will not deliver again).

A pure ASGI middleware observes every `/webhooks/...` request without
touching the handlers: the status from the response, the latency to the
end of the response, and the Chatwoot event name read from the body bytes
as they pass through (a bounded regex, never a second JSON parse; names
outside the known set count as `other`, so a hostile body cannot create
series). Each app gets its own registry, so several bridges in one process
(the tests, the dev stack) never share or clash.

| metric | kind | labels |
| --- | --- | --- |
| `ticketflow_bridge_webhooks_total` | counter | source (chatwoot, pagerduty), event, status |
| `ticketflow_bridge_webhook_duration_seconds` | histogram | source |
| `ticketflow_bridge_unavailable_total` | counter | source (answered 503) |
"""

from __future__ import annotations

import re
import time

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.responses import Response

# Chatwoot's webhook events (Settings → Integrations → Webhooks); anything else is `other`.
CHATWOOT_EVENTS = frozenset(
    {
        "conversation_created",
        "conversation_updated",
        "conversation_status_changed",
        "conversation_typing_on",
        "conversation_typing_off",
        "message_created",
        "message_updated",
        "webwidget_triggered",
        "contact_created",
        "contact_updated",
    }
)
_EVENT = re.compile(rb'"event"\s*:\s*"([a-z_]{1,64})"')
_SNIFF_BYTES = 64 * 1024  # the event key comes first in Chatwoot's bodies; never scan more
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class BridgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.webhooks = Counter(
            "ticketflow_bridge_webhooks",
            "Webhooks answered, by source, event and HTTP status",
            ["source", "event", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "ticketflow_bridge_webhook_duration_seconds",
            "Time from a webhook's arrival to the end of its answer",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.unavailable = Counter(
            "ticketflow_bridge_unavailable",
            "Webhooks answered 503 (Temporal unreachable or refusing)",
            ["source"],
            registry=self.registry,
        )

    def observe(self, source: str, event: str, status: int, seconds: float) -> None:
        self.webhooks.labels(source, event, str(status)).inc()
        self.duration.labels(source).observe(seconds)
        if status == 503:
            self.unavailable.labels(source).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def event_name(source: str, head: bytes) -> str:
    if source != "chatwoot":
        return "pagerduty" if source == "pagerduty" else "other"
    m = _EVENT.search(head)
    name = m.group(1).decode() if m else ""
    return name if name in CHATWOOT_EVENTS else "other"


class _Middleware:
    def __init__(self, app, metrics: BridgeMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/webhooks/"):
            await self.app(scope, receive, send)
            return
        source = path.split("/")[2] or "other"
        source = source if source in ("chatwoot", "pagerduty") else "other"
        started, head, status = time.perf_counter(), bytearray(), 500

        async def sniffing_receive():
            message = await receive()
            if message["type"] == "http.request" and len(head) < _SNIFF_BYTES:
                head.extend(message.get("body", b"")[: _SNIFF_BYTES - len(head)])
            return message

        async def status_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, sniffing_receive, status_send)
        finally:
            self.metrics.observe(
                source, event_name(source, bytes(head)), status, time.perf_counter() - started
            )


def install(app: FastAPI) -> BridgeMetrics:
    """Mount `/metrics` and the webhook middleware on the bridge app."""
    metrics = BridgeMetrics()
    app.add_middleware(_Middleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.state.metrics = metrics
    return metrics
