"""Operator commands: `ticketflow ack|resolve|reopen|escalate|decide|reassign|show|list`.

Each action is a Temporal *update* on the ticket, so a refusal comes back
at once with the validator's message. TICKET is a workflow id
(`ticket-1-101`), a Chatwoot conversation id (`101`, in CHATWOOT_ACCOUNT_ID
or account 1), or the short id a page's summary prints (`AB12CD34`; see
client/ticket_lookup.py).

Exit codes a script can use: 0 done, 1 unexpected failure, 2 bad argument
or settings, 3 refused by the ticket, 4 unknown ticket, 5 Temporal unreachable.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from client.ticket_lookup import AmbiguousTicket, TicketNotFound, find_ticket
from client.tickets import (
    NoAnswer,
    TicketFilter,
    refusal,
    send_update,
    time_left,
    ui_link,
    when,
)
from client.tickets import list_tickets as list_tickets_
from infra.links import console_ticket_url
from infra.settings import Settings
from models.handoff import HandoffResponse
from models.signals import Acknowledged, Escalate, Reassign, Reopened, Resolved
from models.status import TicketStatus
from workflows.ticket import TicketWorkflow

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REFUSED, EXIT_UNKNOWN, EXIT_UNREACHABLE = 0, 1, 2, 3, 4, 5
console = Console()
err_console = Console(stderr=True)


def _fail(code: int, message: str) -> None:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


async def _client(settings: Settings) -> Client:
    from infra.temporal import connect

    try:
        return await asyncio.wait_for(connect(settings), 10)
    except Exception as exc:  # connection refused, DNS, TLS, timeout
        _fail(
            EXIT_UNREACHABLE,
            f"cannot reach Temporal at {settings.temporal_address} ({type(exc).__name__})",
        )
        raise  # unreachable


def run(settings: Settings, action: Callable[[Client], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        client = await _client(settings)
        try:
            return await action(client)
        except WorkflowUpdateFailedError as exc:
            _fail(EXIT_REFUSED, refusal(exc))
        except NoAnswer as exc:
            _fail(EXIT_UNREACHABLE, str(exc))
        except TicketNotFound as exc:
            _fail(EXIT_UNKNOWN, str(exc))
        except AmbiguousTicket as exc:
            _fail(EXIT_USAGE, str(exc))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                _fail(EXIT_UNKNOWN, f"no such ticket (or it has finished): {exc.message}")
            if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
                _fail(EXIT_UNREACHABLE, f"Temporal unavailable: {exc.message}")
            _fail(EXIT_FAILURE, f"Temporal error: {exc.message}")

    return asyncio.run(go())


async def _find(client: Client, ticket: str, settings: Settings) -> str:
    return await find_ticket(client, ticket, settings.chatwoot_account_id)


def update(settings: Settings, ticket: str, fn, arg) -> None:
    async def action(client: Client) -> TicketStatus:
        wid = await _find(client, ticket, settings)
        return await send_update(client, wid, fn, arg, source="cli")

    status = run(settings, action)
    print_status(status, settings)


def show(settings: Settings, ticket: str, as_json: bool) -> None:
    async def action(client: Client) -> TicketStatus:
        wid = await _find(client, ticket, settings)
        return await client.get_workflow_handle(wid).query(TicketWorkflow.status)

    status = run(settings, action)
    if as_json:
        typer.echo(status.model_dump_json(indent=2))
    else:
        print_status(status, settings)


def print_status(s: TicketStatus, settings: Settings) -> None:
    console.print(
        f"[bold]{s.ticket_id}[/bold] (#{s.short_id})  policy {s.policy} {s.policy_version or ''}"
    )
    console.print(
        f"owner [bold]{s.owner}[/bold]  stage [bold]{s.stage}[/bold]  SLA {s.sla_state}  "
        f"VIP {'yes' if s.vip else 'no'}  level {s.level}"
    )
    if s.error:
        console.print(f"[red]{s.error}[/red]")
    if s.clocks:
        t = Table("clock", "state", "deadline", "time left", title="SLA clocks")
        t.columns[0].no_wrap = True
        for c in s.clocks:
            running = c.status == "running"
            t.add_row(
                c.title,
                c.status,
                when(c.deadline, s) if running or c.status == "breached" else "-",
                time_left(c.deadline, s.now) if running else "-",
            )
        console.print(t)
    if s.handoffs:
        t = Table("handoff", "to", "status", "deadline", title="Handoffs")
        for h in s.handoffs:
            t.add_row(h.title, h.target, h.status, when(h.deadline, s))
        console.print(t)
    if s.ladder:
        t = Table("at", "action", "target", "what", title="Ladder steps taken")
        for e in s.ladder[-15:]:
            t.add_row(when(e.at, s), e.action, e.target or "", e.summary)
        console.print(t)
    if s.rejected_signals:
        for r in s.rejected_signals[-5:]:
            console.print(f"[yellow]rejected {r.signal}:[/yellow] {r.reason}")
    link = console_ticket_url(settings, s.ticket_id)
    if link:
        console.print(f"Console: {link}")
    console.print(f"Web UI: {ui_link(settings, s.ticket_id)}")


def list_tickets(
    settings: Settings,
    breached: bool,
    owner: str | None,
    policy: str | None,
    vip: bool,
    all_: bool,
    limit: int,
) -> None:
    flt = TicketFilter(breached=breached, owner=owner, policy=policy, vip=vip, all_=all_)
    query = flt.visibility_query()

    async def action(client: Client) -> list:
        return [
            (r.workflow_id, r.owner, r.stage, r.sla_state, r.vip, r.level, r.policy)
            for r in await list_tickets_(client, flt, limit)
        ]

    rows = run(settings, action)
    t = Table("ticket", "owner", "stage", "SLA", "VIP", "level", "policy", title=query)
    for r in rows:
        t.add_row(*[("yes" if v is True else "no" if v is False else str(v or "")) for v in r])
    console.print(t)
    console.print(f"{len(rows)} ticket(s)")


def build(app: typer.Typer, settings_factory: Callable[[], Settings]) -> None:
    """Register the operator commands on the `ticketflow` app."""

    @app.command()
    def ack(
        ticket: str, by: str = typer.Option(..., help="Who acknowledges (a person id of the pack).")
    ) -> None:
        """Acknowledge a ticket."""
        update(settings_factory(), ticket, TicketWorkflow.acknowledge, Acknowledged(by=by))

    @app.command()
    def resolve(
        ticket: str, by: str = typer.Option(...), resolution: str = typer.Option("")
    ) -> None:
        """Resolve a ticket."""
        update(
            settings_factory(),
            ticket,
            TicketWorkflow.resolve,
            Resolved(by=by, resolution=resolution),
        )

    @app.command()
    def reopen(ticket: str, by: str = typer.Option(None)) -> None:
        """Reopen a resolved ticket."""
        update(settings_factory(), ticket, TicketWorkflow.reopen, Reopened(by=by))

    @app.command()
    def escalate(
        ticket: str,
        by: str = typer.Option(...),
        reason: str = typer.Option(...),
        to: str = typer.Option(None, help="Target; default: the pack's escalation table."),
        payload: str = typer.Option("{}", help="Handoff payload as JSON."),
        field: list[str] = typer.Option(
            [], "--field", "-f", help="Payload field as key=value (repeatable)."
        ),
    ) -> None:
        """Escalate: start the handoff the pack routes this reason to."""
        try:
            data = json.loads(payload)
        except json.JSONDecodeError as exc:
            _fail(EXIT_USAGE, f"--payload is not JSON: {exc.msg}")
        if not isinstance(data, dict):
            _fail(EXIT_USAGE, "--payload must be a JSON object")
        for item in field:
            if "=" not in item:
                _fail(EXIT_USAGE, f"--field {item!r}: expected key=value")
            k, v = item.split("=", 1)
            data[k] = v
        update(
            settings_factory(),
            ticket,
            TicketWorkflow.request_escalation,
            Escalate(by=by, target=to, reason=reason, payload=data),
        )

    @app.command()
    def decide(
        ticket: str,
        by: str = typer.Option(...),
        decision: str = typer.Option(None),
        action: str = typer.Option(None, help="What the decider will do (founder_action)."),
        handoff: str = typer.Option(None, help="Which open handoff, when there are several."),
        fail: bool = typer.Option(
            False, "--fail", help="Report the handoff as failed ({ok: false})."
        ),
    ) -> None:
        """Answer an open handoff: a decision, or --fail."""
        update(
            settings_factory(),
            ticket,
            TicketWorkflow.decide,
            HandoffResponse(
                by=by, ok=not fail, decision=decision, founder_action=action, handoff=handoff
            ),
        )

    @app.command()
    def reassign(ticket: str, to: str = typer.Option(...), by: str = typer.Option(None)) -> None:
        """Give the ticket to someone else."""
        update(settings_factory(), ticket, TicketWorkflow.reassign_to, Reassign(to=to, by=by))

    @app.command("show")
    def show_cmd(
        ticket: str, json_: bool = typer.Option(False, "--json", help="Machine-readable status.")
    ) -> None:
        """Owner, stage, SLA clocks with time left, handoffs, ladder, console and Web UI links.

        TICKET: a workflow id, a conversation number or a page's short id (AB12CD34)."""
        show(settings_factory(), ticket, json_)

    @app.command("list")
    def list_cmd(
        breached: bool = typer.Option(False, "--breached"),
        owner: str = typer.Option(None),
        policy: str = typer.Option(None),
        vip: bool = typer.Option(False, "--vip"),
        all_: bool = typer.Option(False, "--all", help="Include finished tickets."),
        limit: int = typer.Option(100),
    ) -> None:
        """List tickets through Temporal visibility."""
        list_tickets(settings_factory(), breached, owner, policy, vip, all_, limit)
