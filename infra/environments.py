"""Temporal servers started through the SDK's `WorkflowEnvironment`, for
`ticketflow simulate`, the tests and the bench: the time-skipping test
server and the local dev server, from the pinned wheels (nothing downloads),
with the pydantic data converter.

Why the retry: the SDK picks each server's port by binding port 0 and
closing it, and the server binds that number a moment later; another
process on the machine can take it in between, and the start then fails
(the server exits, or the SDK reaches the wrong listener). Starting again
picks fresh numbers, so a start is tried a few times before it fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from infra.temporal import venv_binary
from models import search_attributes

log = structlog.get_logger(__name__)

ATTEMPTS = 3
CLI_UI_PORT_OFFSET = (
    1000  # the dev server's Web UI listens on its gRPC port + 1000 unless told otherwise
)


async def _started(
    start: Callable[[], Awaitable[WorkflowEnvironment]], what: str
) -> WorkflowEnvironment:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await start()
        except (
            Exception
        ) as exc:  # the SDK raises RuntimeError or a connect error; all mean "not up"
            if attempt == ATTEMPTS:
                raise RuntimeError(
                    f"{what} did not start after {ATTEMPTS} attempts: {exc}"
                ) from exc
            log.info(
                "temporal server did not start, starting again on fresh ports",
                server=what,
                attempt=attempt,
                error=f"{type(exc).__name__}: {exc}",
            )
    raise AssertionError("unreachable")


async def time_skipping_environment() -> WorkflowEnvironment:
    """Temporal's time-skipping test server: timers fire as soon as no
    workflow task is outstanding."""
    return await _started(
        lambda: WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(venv_binary("temporal-test-server")),
            data_converter=pydantic_data_converter,
        ),
        "time-skipping test server",
    )


async def local_environment(*, ui: bool = False) -> WorkflowEnvironment:
    """An in-memory Temporal dev server with ticketflow's search attributes
    (and its Web UI on `ui_address(env)` when `ui`)."""
    extra = ["--ui-disable-news-fetch"] if ui else []
    return await _started(
        lambda: WorkflowEnvironment.start_local(
            dev_server_existing_path=str(venv_binary("temporal")),
            data_converter=pydantic_data_converter,
            search_attributes=search_attributes.ALL,
            dev_server_log_level="error",
            ui=ui,
            dev_server_extra_args=extra,
        ),
        "dev server",
    )


def ui_address(env: WorkflowEnvironment) -> str:
    """The Web UI of a `local_environment(ui=True)`."""
    host, _, port = env.client.service_client.config.target_host.rpartition(":")
    return f"http://{host}:{int(port) + CLI_UI_PORT_OFFSET}"
