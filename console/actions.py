"""Turn a console form into the same Temporal update the CLI sends.

Returns the ticket's new status, or the words to show next to the form:
a bad form value, the ticket validator's refusal, an unknown ticket, or
Temporal being unreachable. Nothing here raises to the page.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from client.tickets import ACTIONS, NoAnswer, refusal, send_update
from console.packs import Packs, escalation_form, payload_from_form
from models.handoff import HandoffResponse
from models.signals import Acknowledged, Escalate, Reassign, Reopened, Resolved, Source
from models.status import TicketStatus

log = structlog.get_logger(__name__)

DONE = {
    "acknowledge": "Acknowledged",
    "request_escalation": "Escalated",
    "decide": "Answered the handoff",
    "reassign_to": "Reassigned",
    "resolve": "Resolved",
    "reopen": "Reopened",
}


@dataclass
class Outcome:
    status: TicketStatus | None = None
    error: str | None = None
    notice: str | None = None


class FormError(ValueError):
    pass


def build_input(
    action: str, by: str, values: dict[str, str], packs: Packs, policy: str | None
) -> BaseModel:
    """The typed update input for an action, `by` the logged-in operator."""
    v = {k: val.strip() for k, val in values.items()}
    if action == "acknowledge":
        return Acknowledged(by=by)
    if action == "resolve":
        return Resolved(by=by, resolution=v.get("resolution", ""))
    if action == "reopen":
        return Reopened(by=by)
    if action == "reassign_to":
        return Reassign(to=v.get("to", ""), by=by)
    if action == "decide":
        return HandoffResponse(
            by=by,
            ok=v.get("outcome") != "failed",
            decision=v.get("decision") or None,
            founder_action=v.get("founder_action") or None,
            handoff=v.get("handoff") or None,
        )
    if action == "request_escalation":
        reason = v.get("reason", "")
        pack = packs.get(policy)
        form = escalation_form(pack, reason) if pack and reason else None
        payload = payload_from_form(form, v) if form else {}
        return Escalate(by=by, reason=reason, target=v.get("target") or None, payload=payload)
    raise FormError(f"unknown action {action!r}")


def _describe(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in err.errors()
    )


async def perform(
    client: Client,
    wid: str,
    action: str,
    by: str,
    values: dict[str, str],
    packs: Packs,
    policy: str | None,
    source: Source = "console",
) -> Outcome:
    """Send an operator's action (`source`: the console, or a Slack button)."""
    if action not in ACTIONS:
        return Outcome(error=f"unknown action {action!r}")
    try:
        arg = build_input(action, by, values, packs, policy)
    except ValidationError as err:
        return Outcome(error=_describe(err))
    except FormError as err:
        return Outcome(error=str(err))
    update, _ = ACTIONS[action]
    try:
        status = await send_update(client, wid, update, arg, source=source)
    except WorkflowUpdateFailedError as exc:
        log.info("console action refused", workflow_id=wid, action=action, by=by)
        return Outcome(error=refusal(exc))
    except NoAnswer as exc:
        log.warning("console action not answered", workflow_id=wid, action=action)
        return Outcome(error=str(exc))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return Outcome(error="no such ticket (or it has finished)")
        log.warning(
            "console action failed",
            workflow_id=wid,
            action=action,
            error=exc.status.name if exc.status else "",
        )
        return Outcome(
            error="Temporal did not take the action "
            f"({exc.status.name if exc.status else 'error'}); try again"
        )
    log.info("console action", workflow_id=wid, action=action, by=by)
    return Outcome(status=status, notice=f"{DONE[action]} as {by}.")
