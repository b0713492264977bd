"""What both stand-ins share: a call log and fault injection."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

_DEFAULT_KINDS: list[int | str] = [429, 500, 503]


class FaultConfig(BaseModel):
    """Fail `rate` of API calls (not /_sandbox ones) with one of `kinds`:
    an HTTP status (429, 500, 502, 503) or "timeout" (the call hangs for
    `timeout_seconds` and then succeeds, as a slow server would: the client
    gives up while the write still lands).

    Independently, `slow_rate` of API calls are *slow answers*: the call is
    carried out at once (the write lands), then its answer is held back for
    `slow_seconds`, beyond the client's timeout and the activity's, so the
    caller retries a call that in fact succeeded.

    `outage` takes the whole API down until faults are set again without it:
    "503" answers every call 503 at once; "hang" holds every call open (as
    a server that stopped answering), and when the outage ends each held
    call is answered 503 (its client gave up long before; the write never
    landed), so only the caller's retries land."""

    rate: float = Field(default=0.0, ge=0.0, le=1.0)
    kinds: list[int | str] = Field(default_factory=_DEFAULT_KINDS.copy)
    timeout_seconds: float = 15.0
    slow_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    slow_seconds: float = 35.0
    seed: int | None = None
    outage: Literal["hang", "503"] | None = None


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.faults = FaultConfig()
        self._rng = random.Random()
        self._outage_over = asyncio.Event()

    def set_faults(self, cfg: FaultConfig) -> None:
        self.faults = cfg
        self._rng = random.Random(cfg.seed)
        self._outage_over.set()  # calls held by a previous outage are answered now
        self._outage_over = asyncio.Event()

    def record(self, request: Request, body: Any, status: int, response: Any = None) -> None:
        self.calls.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "body": body,
                "status": status,
                "response": response,
                "at": time.time(),  # when the call was answered (unix seconds)
            }
        )

    def slow_answer(self) -> bool:
        return self.faults.slow_rate > 0 and self._rng.random() < self.faults.slow_rate

    async def maybe_fail(self, request: Request, body: Any) -> JSONResponse | None:
        """Apply fault injection; return the failure response, or None to proceed."""
        if self.faults.outage is not None:
            if self.faults.outage == "hang":
                await self._outage_over.wait()
            self.record(request, body, 503, {"error": "injected outage"})
            return JSONResponse({"error": "service unavailable"}, status_code=503)
        if self.faults.rate <= 0 or self._rng.random() >= self.faults.rate:
            return None
        kind = self._rng.choice(self.faults.kinds)
        if kind == "timeout":
            await asyncio.sleep(self.faults.timeout_seconds)
            return None  # the slow call still succeeds after the client gave up
        status = int(kind)
        self.record(request, body, status, {"error": "injected fault"})
        headers = {"Retry-After": "1"} if status == 429 else {}
        return JSONResponse({"error": f"injected {status}"}, status_code=status, headers=headers)


def mount_control(app: FastAPI, recorder: Recorder) -> None:
    """/_sandbox endpoints: read the call log, reset it, configure faults;
    and the slow-answer fault, applied after the call was carried out."""

    @app.middleware("http")
    async def slow_answers(request: Request, call_next):
        response = await call_next(request)
        if not request.url.path.startswith("/_sandbox") and recorder.slow_answer():
            await asyncio.sleep(recorder.faults.slow_seconds)
        return response

    @app.get("/_sandbox/calls")
    async def calls() -> list[dict[str, Any]]:
        return recorder.calls

    @app.delete("/_sandbox/calls")
    async def clear() -> dict[str, str]:
        recorder.calls.clear()
        return {"status": "cleared"}

    @app.post("/_sandbox/faults")
    async def faults(cfg: FaultConfig) -> FaultConfig:
        recorder.set_faults(cfg)
        return cfg
