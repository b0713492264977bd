"""Metrics: the worker's Temporal runtime serves the SDK's metrics and the
SOP business metrics in Prometheus format; the bridge serves its own
`/metrics` (webhooks by event and status, latency, 503s)."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.policy import policy_activities
from client.gateway import TemporalGateway
from infra.processes import listening_ports
from infra.settings import load_settings
from infra.telemetry import MetricsUnavailable, build_runtime
from models.handoff import HandoffResponse
from models.signals import Escalate
from models.ticket import Contact
from models.ticket_input import TicketInput
from models.timezones import zone
from sandbox.recording import Recorder, recording_activities
from starter.bridge import create_app
from starter.signatures import sign_chatwoot
from tests import payloads
from tests.helpers import POLICIES_DIR, eventually, terminate_all
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

TUESDAY_10 = datetime(2026, 11, 17, 10, tzinfo=zone("America/Chicago"))


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value} of a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(all_samples: dict, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in all_samples.items() if n == name and want <= ls)


# ------------------------------------------------------------------ worker


@pytest.fixture
async def metrics_worker(ts_env, pg_pool, task_queue):
    """A worker whose client has its own runtime serving Prometheus metrics on
    a free port (port 0, read back). No workflow cache: every task replays the
    ticket's whole history, so a metric recorded during replay would count twice."""
    before = listening_ports(os.getpid())
    runtime = build_runtime(metrics_address="127.0.0.1:0")
    [port] = listening_ports(os.getpid()) - before
    address = f"127.0.0.1:{port}"
    client = await Client.connect(
        ts_env.client.service_client.config.target_host,
        runtime=runtime,
        data_converter=pydantic_data_converter,
    )
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), *recording_activities(Recorder(), pg_pool)],
        max_cached_workflows=0,
    ):
        yield f"http://{address}/metrics"


async def scrape(url: str) -> dict:
    async with httpx.AsyncClient() as http:
        return samples((await http.get(url, timeout=5)).text)


async def test_worker_serves_sdk_and_business_metrics(ts_env, metrics_worker, cleanup, task_queue):
    offset = (TUESDAY_10 - await ts_env.get_current_time()).total_seconds()
    ticket = TicketInput(
        account_id=1,
        conversation_id=int(uuid.uuid4().int % 10**6) + 1,
        policy="vip-concierge",
        contact=Contact(name="Jane Doe", vip=True),
        created_at=TUESDAY_10,
        clock_offset_seconds=offset,
    )
    handle = await ts_env.client.start_workflow(
        TicketWorkflow.run, ticket, id=f"t-{uuid.uuid4().hex[:10]}", task_queue=task_queue
    )
    cleanup.append(handle.id)
    m = await eventually(
        lambda: scrape(metrics_worker),
        lambda m: value(m, "ticketflow_tickets_opened_total", pack="vip-concierge") == 1,
    )
    assert value(m, "ticketflow_tickets_opened_total", pack="vip-concierge", vip="true") == 1
    assert value(m, "ticketflow_sla_breaches_total") == 0
    # the SDK's own metrics come out of the same endpoint
    assert any(name.startswith("temporal_") for name, _ in m), sorted({n for n, _ in m})

    # Nobody acknowledges in 30 minutes: the VIP ack clock breaches and Lola (the backup) is paged.
    await ts_env.sleep(timedelta(minutes=31))
    m = await eventually(
        lambda: scrape(metrics_worker),
        lambda m: value(m, "ticketflow_pages_total", target="lola") == 1,
    )
    assert value(m, "ticketflow_sla_breaches_total", pack="vip-concierge", clock="first_ack") == 1
    assert (
        value(
            m, "ticketflow_breach_lateness_seconds_count", pack="vip-concierge", clock="first_ack"
        )
        == 1
    )
    assert value(m, "ticketflow_breach_lateness_seconds_bucket", clock="first_ack", le="+Inf") == 1
    # the time-skipping server fires the timer at the deadline: a lateness of (almost) nothing
    assert value(m, "ticketflow_breach_lateness_seconds_sum", clock="first_ack") < 5

    # An escalation: a handoff starts (counted for the escalation rate), and Alliyson
    # acknowledges it.
    await handle.execute_update(
        TicketWorkflow.request_escalation,
        Escalate(
            by="lola",
            reason="refund_over_200",
            payload={
                "issue_summary": "refund",
                "alicia_already_tried": "credit",
                "customer_emotional_state": "calm",
            },
        ),
    )
    await handle.execute_update(TicketWorkflow.decide, HandoffResponse(by="alliyson"))
    m = await eventually(
        lambda: scrape(metrics_worker),
        lambda m: value(m, "ticketflow_handoffs_total", outcome="acknowledged") == 1,
    )
    assert value(m, "ticketflow_escalations_total", pack="vip-concierge", via="handoff") == 1
    assert value(m, "ticketflow_tickets_escalated_total", pack="vip-concierge") == 1


def test_metrics_address_in_use_is_a_clear_error():
    from typer.testing import CliRunner

    from starter.cli import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = f"127.0.0.1:{s.getsockname()[1]}"
        with pytest.raises(MetricsUnavailable, match=f"cannot serve metrics on {taken}.*in use"):
            build_runtime(metrics_address=taken)
        result = CliRunner().invoke(app, ["worker"], env={"WORKER_METRICS_ADDRESS": taken})
    assert result.exit_code == 2 and f"cannot serve metrics on {taken}" in result.output
    assert "WORKER_METRICS_ADDRESS" in result.output


# ------------------------------------------------------------------ bridge


async def test_bridge_metrics_count_webhooks_by_event_and_status(ts_env, ticket_worker, task_queue):
    settings = load_settings(
        _env_file=None,
        temporal_task_queue=task_queue,
        webhook_secret="whsec",
        chatwoot_base_url="https://chat.example.com",
    )
    app = create_app(settings, TemporalGateway(settings, ts_env.client))
    conv = int(uuid.uuid4().int % 10**6) + 1
    body = json.dumps(payloads.conversation(conv_id=conv, account_id=1)).encode()
    ts = int(
        time.time()
    )  # the resend is signed a second earlier: a new signature, however slow the first post
    headers = {"content-type": "application/json", **sign_chatwoot("whsec", body, ts)}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bridge"
    ) as http:
        try:
            assert (
                await http.post("/webhooks/chatwoot", content=body, headers=headers)
            ).status_code == 202
            resend = {"content-type": "application/json", **sign_chatwoot("whsec", body, ts - 1)}
            assert (
                await http.post("/webhooks/chatwoot", content=body, headers=resend)
            ).status_code == 202
            bad = {"content-type": "application/json", **sign_chatwoot("wrong", body)}
            assert (
                await http.post("/webhooks/chatwoot", content=body, headers=bad)
            ).status_code == 401
            hostile = b'{"event": "x' + b"a" * 70 + b'", "id": 1}'
            await http.post(
                "/webhooks/chatwoot",
                content=hostile,
                headers={"content-type": "application/json", **sign_chatwoot("whsec", hostile)},
            )
            assert (await http.get("/healthz")).status_code == 200
            resp = await http.get("/metrics")
        finally:
            await terminate_all(ts_env.client, [f"ticket-1-{conv}"])
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    m = samples(resp.text)
    assert (
        value(
            m,
            "ticketflow_bridge_webhooks_total",
            source="chatwoot",
            event="conversation_created",
            status="202",
        )
        == 2
    )
    assert (
        value(m, "ticketflow_bridge_webhooks_total", event="conversation_created", status="401")
        == 1
    )
    assert (
        value(m, "ticketflow_bridge_webhooks_total", event="other") == 1
    )  # no series per hostile name
    assert value(m, "ticketflow_bridge_webhook_duration_seconds_count", source="chatwoot") == 4
    assert value(m, "ticketflow_bridge_unavailable_total") == 0
    assert "healthz" not in resp.text and "/metrics" not in resp.text  # only webhooks are counted

    # the ticket the bridge started reads well in the Web UI's list and links its conversation
    desc = await ts_env.client.get_workflow_handle(f"ticket-1-{conv}").describe()
    assert (await desc.static_summary()).endswith("· vip-concierge")
    assert (
        f"https://chat.example.com/app/accounts/1/conversations/{conv}"
        in await desc.static_details()
    )


async def test_bridge_counts_503s_when_temporal_is_unreachable():
    with (
        socket.socket() as held
    ):  # bound and never listening: connections are refused, nobody else can take it
        held.bind(("127.0.0.1", 0))
        settings = load_settings(
            _env_file=None,
            webhook_secret="whsec",
            temporal_address=f"127.0.0.1:{held.getsockname()[1]}",
        )
        app = create_app(settings, TemporalGateway(settings))
        body = json.dumps(payloads.conversation(conv_id=5, account_id=1)).encode()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bridge"
        ) as http:
            resp = await http.post(
                "/webhooks/chatwoot",
                content=body,
                headers={"content-type": "application/json", **sign_chatwoot("whsec", body)},
            )
            assert resp.status_code == 503
            m = samples((await http.get("/metrics")).text)
    assert value(m, "ticketflow_bridge_unavailable_total", source="chatwoot") == 1
    assert (
        value(m, "ticketflow_bridge_webhooks_total", event="conversation_created", status="503")
        == 1
    )
