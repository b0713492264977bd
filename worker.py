"""The ticketflow worker: every workflow and activity on one task queue.

Clients are created once and closed on shutdown: one shared
`httpx.AsyncClient` for Chatwoot and PagerDuty, one `asyncpg` pool for the
audit tables. SIGTERM (and Ctrl-C) drain gracefully: the worker stops
polling, lets running activities finish (up to `graceful_shutdown_timeout`)
and only then closes the clients.

Run it with `ticketflow worker`, which loads the settings, configures logging
and the Temporal runtime, then calls `run_until_signalled`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.worker import PatchActivationInput, PollerBehaviorSimpleMaximum, Worker
from temporalio.worker.workflow_sandbox import SandboxRestrictions

from activities.adoption import AdoptionActivities
from activities.audit import AuditActivities
from activities.audit_batch import AuditBatchActivities
from activities.chatwoot import ChatwootActivities
from activities.chatwoot_batch import ChatwootBatchActivities
from activities.email import EmailActivities
from activities.pagerduty import PagerDutyActivities
from activities.policy import policy_activities
from activities.reconcile import ReconcileActivities
from activities.slack import SlackActivities
from infra import db
from infra.sandbox_runner import sandboxed_runner
from infra.settings import Settings
from workflows.handoff import HandoffWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.routes import activity_name, routed_activity_names
from workflows.ticket import TicketWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS = [TicketWorkflow, HandoffWorkflow, ReconcileWorkflow]


@asynccontextmanager
async def activity_clients(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    if settings.database_url is None:
        raise RuntimeError(
            "DATABASE_URL is not set: the worker needs Postgres for its audit activities"
        )
    pool = await db.create_pool(settings.database_url.get_secret_value())
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
    try:
        yield http, pool
    finally:
        await http.aclose()
        await pool.close()


def audit_activities(pool) -> list:
    audit = AuditActivities(pool)
    return [
        audit.record_ticket_event,
        audit.record_vip_concierge_action,
        audit.record_support_escalation,
        audit.record_founder_pull,
        audit.record_vip_flag_change,
        audit.record_decision_log,
        audit.count_recent_level,
        audit.record_inputs,
    ]


def build_activities(settings: Settings, http: httpx.AsyncClient, pool, client: Client) -> list:
    chatwoot = ChatwootActivities(http, settings)
    reconcile = ReconcileActivities(http, settings, client)
    pagerduty = PagerDutyActivities(http, settings)
    slack = SlackActivities(http, settings, pool)
    email = EmailActivities(settings, pool)
    batches = [
        ChatwootBatchActivities(chatwoot).apply_batch,
        AuditBatchActivities(pool).record_batch,
    ]
    registered = [
        *batches,
        *policy_activities(settings.policies_dir, pool, settings.shadow_scope),
        chatwoot.send_message,
        chatwoot.update_labels,
        chatwoot.assign,
        chatwoot.set_status,
        chatwoot.merge_custom_attributes,
        chatwoot.check_reply,
        AdoptionActivities(http, settings).read_adoption,
        pagerduty.send_event,
        slack.post,
        slack.update,
        email.send,
        reconcile.sync_open_conversations,
        *audit_activities(pool),
    ]
    missing = routed_activity_names() - {activity_name(fn) for fn in registered}
    if missing:  # an action kind would wait for an activity no worker runs
        raise RuntimeError(f"the worker does not register {sorted(missing)} (workflows/routes.py)")
    return registered


def unconfigured_channels(settings: Settings) -> list[str]:
    """The optional channels this worker cannot reach (said at start: a pack's `do: slack` or
    `do: email` fails without them, and `pack check` refuses such packs)."""
    out = []
    if not settings.slack_configured:
        out.append("SLACK_BOT_TOKEN (do: slack)")
    if not settings.email_configured:
        out.append("SMTP_URL (do: email)")
    return out


def worker_options(settings: Settings, converter: DataConverter = pydantic_data_converter) -> dict:
    """Cache, concurrency, pollers and sandbox from WORKER_* settings (see infra/settings.py),
    for a worker whose client converts payloads with `converter`."""
    restrictions = SandboxRestrictions.default
    if settings.worker_share_workflow_modules:
        restrictions = restrictions.with_passthrough_modules("workflows")
    return dict(
        workflow_runner=sandboxed_runner(converter, restrictions),
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(
            settings.worker_workflow_task_pollers
        ),
        activity_task_poller_behavior=PollerBehaviorSimpleMaximum(
            settings.worker_activity_task_pollers
        ),
        sticky_queue_schedule_to_start_timeout=timedelta(
            seconds=settings.worker_sticky_schedule_to_start_seconds
        ),
        patch_activation_callback=dormant_patches(settings.worker_dormant_patches),
    )


def dormant_patches(dormant: frozenset[str]) -> Callable[[PatchActivationInput], bool] | None:
    """The SDK's say on a *new* run's first `workflow.patched(id)`: no for a dormant id, so a
    ticket started here takes the old path and writes no marker that older workers could not
    replay. A replay never asks: it follows the ticket's own history (docs/deploying.md)."""
    if not dormant:
        return None
    return lambda call: call.patch_id not in dormant


@asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, workflows: Sequence[type] = ()
) -> AsyncIterator[Worker]:
    """A started worker with its clients; leaving the block drains it. `workflows`: the
    classes to run (default WORKFLOWS; the rolling-deploy test runs a next version)."""
    async with activity_clients(settings) as (http, pool):
        worker = Worker(
            client,
            task_queue=settings.temporal_task_queue,
            workflows=list(workflows or WORKFLOWS),
            activities=build_activities(settings, http, pool, client),
            graceful_shutdown_timeout=timedelta(seconds=20),
            **worker_options(settings, client.data_converter),
        )
        async with worker:
            log.info(
                "worker running",
                task_queue=settings.temporal_task_queue,
                namespace=settings.temporal_namespace,
            )
            yield worker
        log.info("worker stopped")


async def run_until_signalled(settings: Settings, workflows: Sequence[type] = ()) -> None:
    from infra.temporal import connect
    from infra.version import new_ticket_bundle, version

    # Which code this is, and the patch bundle the tickets it starts record (the newest one
    # WORKER_DORMANT_PATCHES leaves on): what a rollout or a rollback must keep replayable.
    log.info(
        "worker starting",
        version=version(),
        new_tickets_record=new_ticket_bundle(settings.worker_dormant_patches),
        dormant_patches=sorted(settings.worker_dormant_patches) or None,
        # Where pages and notes send the person paged to act (infra/links.py).
        console_links=str(settings.public_url) if settings.public_url else "off: PUBLIC_URL unset",
    )
    for missing in unconfigured_channels(settings):
        log.warning("channel not configured: packs that use it are refused", missing=missing)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_worker(client, settings, workflows):
        await stop.wait()
        log.info("shutdown requested, draining")
