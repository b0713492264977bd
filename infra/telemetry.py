"""The process's one Temporal `Runtime`: core logs through Python logging,
and, in the worker, metrics in Prometheus format.

A `Runtime` owns the Temporal core's threads and its telemetry, so each
process creates exactly one, before its first client (clients created
without an explicit runtime use the default set here, and workers use their
client's). With a metrics address, the runtime serves `/metrics` there: the
SDK's own metrics (`temporal_workflow_task_schedule_to_start_latency`,
`temporal_activity_execution_failed`, `temporal_sticky_cache_size`, ...)
and the business metrics the workflows record through
`workflow.metric_meter()` (see `workflows/metrics.py`).

Only the worker serves metrics (`ticketflow worker` with
WORKER_METRICS_ADDRESS set, `ticketflow dev` on 127.0.0.1:9464 unless told
otherwise): an operator command must never try to bind the worker's port.
"""

from __future__ import annotations

import logging

import structlog
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from workflows.metrics import BREACH_LATENESS, LATENESS_BUCKETS

DEV_METRICS_ADDRESS = "127.0.0.1:9464"
log = structlog.get_logger(__name__)


class MetricsUnavailable(RuntimeError):
    """The metrics endpoint could not be started (address taken or malformed)."""


def build_runtime(level: str = "WARN", metrics_address: str | None = None) -> Runtime:
    """A runtime forwarding core logs at `level` and, with an address,
    serving Prometheus metrics there."""
    metrics = None
    if metrics_address:
        metrics = PrometheusConfig(
            bind_address=metrics_address,
            histogram_bucket_overrides={BREACH_LATENESS: LATENESS_BUCKETS},
        )
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level=level, other_level="ERROR"),
                    forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
                ),
                metrics=metrics,
            )
        )
    except ValueError as exc:  # "Failed starting Prometheus exporter: Address already in use"
        raise MetricsUnavailable(f"cannot serve metrics on {metrics_address}: {exc}") from None


def install_runtime(level: str = "WARN", metrics_address: str | None = None) -> Runtime:
    """Build the runtime and make it the process default (before any client)."""
    runtime = build_runtime(level, metrics_address)
    Runtime.set_default(runtime, error_if_already_set=False)
    if metrics_address:
        log.info(
            "serving Temporal SDK and ticketflow metrics", url=f"http://{metrics_address}/metrics"
        )
    return runtime
