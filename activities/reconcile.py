"""Reconciliation: start tickets for open conversations the bridge missed.

Chatwoot delivers each webhook once, with no retry, so a bridge outage
loses events. This activity lists recently active open conversations
through the Application API and starts (never duplicates) their tickets.
"""

from __future__ import annotations

import time

import httpx
import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.chatwoot import ChatwootActivities
from infra.settings import Settings
from models.reconcile import ReconcileInput, ReconcileResult
from models.search_attributes import initial_search_attributes

log = structlog.get_logger(__name__)


class ReconcileActivities:
    def __init__(self, http: httpx.AsyncClient, settings: Settings, client: Client) -> None:
        self.chatwoot = ChatwootActivities(http, settings)
        self.settings = settings
        self.client = client

    @activity.defn(name="reconcile.sync_open_conversations")
    async def sync_open_conversations(self, inp: ReconcileInput) -> ReconcileResult:
        from client.gateway import for_web_ui
        from starter.chatwoot_events import WebhookError, ticket_from_conversation
        from workflows.ticket import TicketWorkflow

        result = ReconcileResult()
        since = time.time() - inp.lookback_seconds
        base = self.chatwoot._url(inp.account_id, 0).rsplit("/", 1)[0]  # .../conversations
        for page in range(1, inp.max_pages + 1):
            body = await self.chatwoot._call("GET", f"{base}?status=open&page={page}")
            convs = (body.get("data") or {}).get("payload") or []
            if not convs:
                break
            for conv in convs:
                activity.heartbeat(page)
                if (conv.get("last_activity_at") or conv.get("created_at") or 0) < since:
                    continue
                result.seen += 1
                try:
                    ticket = ticket_from_conversation(
                        conv, inp.account_id, self.settings.policy_for_inbox
                    )
                except WebhookError as exc:
                    result.skipped += 1
                    log.warning("reconcile: conversation skipped", error=str(exc))
                    continue
                wid = f"ticket-{inp.account_id}-{ticket.conversation_id}"
                try:
                    # A closed ticket is not started again (its reopen webhook does that).
                    ticket, ui = for_web_ui(ticket, self.settings.chatwoot_base_url)
                    await self.client.start_workflow(
                        TicketWorkflow.run,
                        ticket,
                        id=wid,
                        task_queue=self.settings.temporal_task_queue,
                        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                        search_attributes=initial_search_attributes(wid, ticket),
                        **ui,
                    )
                    result.started += 1
                    log.info("reconcile: started a missed ticket", workflow_id=wid)
                except WorkflowAlreadyStartedError:
                    pass
        return result
