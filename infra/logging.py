"""structlog set-up: one line a log event, console or JSON.

A redaction processor drops the value of any key that looks like a secret,
so a careless `log.info("x", token=...)` still never leaks one.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog
from structlog.typing import EventDict, Processor

_SECRET_KEY = re.compile(
    r"(token|secret|password|routing_key|api_key|authorization|signature)", re.I
)


def _redact(_logger: object, _name: str, event: EventDict) -> EventDict:
    for key in list(event):
        if key != "event" and _SECRET_KEY.search(key):
            event[key] = "[redacted]"
    return event


class _StderrLogger:
    """Writes to whatever `sys.stderr` is at call time (robust to redirection)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class _StderrLoggerFactory:
    def __call__(self, *args: object) -> _StderrLogger:
        return _StderrLogger()


def configure_logging(fmt: str = "console", level: str = "info") -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            # Plain tracebacks: rich ones print local variables, which may hold secrets.
            exception_formatter=structlog.dev.plain_traceback,
        )
    )
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[*processors, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=_StderrLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    # Route stdlib logging (temporalio, uvicorn, asyncpg) through structlog too.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *processors],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(lvl)
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(lvl, logging.WARNING))


def configure_temporal_runtime(level: str = "WARN", metrics_address: str | None = None) -> None:
    """Send the Temporal core's own logs through Python logging (and so
    structlog, on stderr) instead of raw lines on stdout, where they would
    corrupt machine-readable output such as `ticketflow simulate`'s JSON.
    With `metrics_address` (the worker only), also serve Prometheus metrics
    there (`infra.telemetry`; raises MetricsUnavailable if it cannot)."""
    from infra.telemetry import install_runtime

    install_runtime(level, metrics_address)
    # The time-skipping server lacks a capability the core warns about on every worker start.
    logging.getLogger("temporalio.core").addFilter(
        lambda record: "activity_failure_include_heartbeat" not in record.getMessage()
    )
