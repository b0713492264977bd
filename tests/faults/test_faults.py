"""The fault suite: a fault may delay an action, never lose it,
never do it twice, never block a ticket's other actions.

Each scenario states its invariant and checks it from outside the processes
(Temporal visibility and queries, the stand-ins' `/_sandbox/calls` and
`/_sandbox/alerts`, Postgres), then records a row of the summary table.
Bounded for CI by default; `FAULTS_SCALE=full` runs the full sizes (300
tickets, 10,000 bodies). Scenarios run in file order on one stack and leave
it healthy for the next.

A ticket's expected end state on the fast VIP pack (nobody acknowledges):
its auto-acknowledgement posted, `ticket.opened` audited, Lola paged at the
4-second acknowledgment breach and Jonathan 3 seconds later: two alerts.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from starter.delivery import REQUEST_BUDGET
from tests import payloads
from tests.faults.invariants import SETTLE, ids, invariants, replay_every_ticket, wait_settled
from tests.faults.report import Row, record, sized
from tests.faults.stack import Stack, until
from workflows.ticket import TicketWorkflow

pytestmark = pytest.mark.faults


# ----------------------------------------------------------------------------- 1


async def test_1_worker_sigkill_mid_ladder(stack: Stack):
    """Invariant: a worker SIGKILLed with tickets mid-ladder and restarted loses
    none, fails none, sends no customer message twice, writes no audit row
    twice and raises each page once per dedup key."""
    n = sized(20, 300)
    wids = await stack.open_tickets(ids(100_001, n))

    async def mid_ladder():  # some tickets paged, not all: the kill lands mid-ladder
        pages = await stack.pages_by_ticket(wids)
        return sum(1 for w in wids if pages[w] >= 1) >= max(1, n // 5)

    assert await until(mid_ladder, 120), "no ticket reached its first page"
    await stack.restart("worker")  # SIGKILL, then a fresh process

    pending = await wait_settled(stack, wids)
    inv = await invariants(stack, wids, n)
    record(
        Row(
            "1 worker SIGKILL mid-ladder",
            f"{n} tickets",
            inv["lost"],
            inv["duplicated"],
            len(pending) + inv["stuck_activities"],
            f"failed workflows {inv['failed']}",
        )
    )
    assert inv["lost"] == 0 and inv["duplicated"] == 0 and inv["failed"] == 0, inv
    assert not pending and inv["stuck_activities"] == 0, (pending, inv)


# ----------------------------------------------------------------------------- 2


async def _deadlines(stack: Stack, wids: list[str]) -> dict[str, list]:
    out = {}
    for wid in wids:
        status = await stack.client.get_workflow_handle(wid).query(TicketWorkflow.status)
        out[wid] = sorted((c.name, c.deadline) for c in status.clocks)
    return out


async def test_2_temporal_killed_and_restarted_on_its_sqlite_file(stack: Stack):
    """Invariant: with the Temporal dev server SIGKILLed and restarted on its
    SQLite file, every open ticket is still open with its deadlines unchanged;
    meanwhile the bridge answers 503 within its budget, and 202 after."""
    n = sized(10, 300)
    wids = await stack.open_tickets(ids(200_001, n))
    assert len(wids) == n
    opened = await until(lambda: _all_opened(stack, wids), 120)
    assert opened
    before = await _deadlines(stack, wids)

    await stack.temporal.kill()
    t0 = time.monotonic()
    down = await stack.post(payloads.conversation(conv_id=299_999, created_at=int(time.time())))
    took = time.monotonic() - t0
    assert down.status_code == 503 and took < REQUEST_BUDGET + 1.5, (down.status_code, took)

    stack.client = await stack.temporal.start()
    conv = 299_998

    async def accepted():
        resp = await stack.post(payloads.conversation(conv_id=conv, created_at=int(time.time())))
        return resp.status_code == 202

    assert await until(accepted, 90), "bridge did not accept webhooks after Temporal came back"

    async def queries_answer():
        try:
            return await _deadlines(stack, wids)
        except Exception:
            return None

    after = await until(queries_answer, 90)
    statuses = await stack.statuses(wids)
    lost = sum(1 for s in statuses.values() if s != WorkflowExecutionStatus.RUNNING)
    moved = sum(1 for w in wids if after is None or after.get(w) != before[w])
    record(
        Row(
            "2 Temporal SIGKILL + restart (SQLite)",
            f"{n} tickets",
            lost,
            0,
            moved,
            f"503 in {took:.1f}s while down; deadlines moved: {moved}",
        )
    )
    assert lost == 0 and moved == 0, (lost, moved)


async def _all_opened(stack: Stack, wids: list[str]) -> bool:
    opened = await stack.audit_count(wids, "ticket.opened")
    return all(opened[w] >= 1 for w in wids)


# ----------------------------------------------------------------------------- 3


async def test_3_postgres_restarted_under_load(stack: Stack):
    """Invariant: with Postgres down while tickets open and then restarted,
    the audit activities retry and every row lands exactly once."""
    n = sized(20, 300)
    await stack.pool.close()
    await stack.pg.stop()  # down before the tickets' first audit writes
    from infra import db

    try:
        wids = await stack.open_tickets(ids(300_001, n))
    finally:
        await stack.pg.start()  # the same data directory and socket
        stack.pool = await db.create_pool(
            stack.dsn, max_size=4
        )  # later scenarios need it, whatever happened
    pending = await wait_settled(stack, wids)
    inv = await invariants(stack, wids, n)
    breached = await stack.audit_count(wids, "sla.breached")
    once = all(breached[w] == 1 for w in wids)
    record(
        Row(
            "3 Postgres restarted under load",
            f"{n} tickets",
            inv["lost"],
            inv["duplicated"],
            len(pending) + inv["stuck_activities"],
            f"sla.breached rows exactly once: {once}",
        )
    )
    assert inv["lost"] == 0 and inv["duplicated"] == 0 and not pending and once, (inv, pending)


# ----------------------------------------------------------------------------- 4


async def test_4_sandboxes_fail_30_percent(stack: Stack):
    """Invariant: with Chatwoot and PagerDuty failing 30% of calls (5xx, 429
    with Retry-After, calls that hang past the client's timeout and then
    land) and answering some calls only after the activity gave up, every
    action is eventually done once: no message twice, one incident per
    dedup key, every ticket reaches its end state.

    The faults last while every ticket runs its whole ladder: until each
    ticket's second page has reached PagerDuty (answered or failed), so every
    action the tickets decide makes its first attempts against them. Kept on
    until the last retry chain ends, they made the run's length a lottery:
    a batch whose every attempt has a one-in-two chance to fail retries for
    minutes at the 30 s backoff cap."""
    n = sized(15, 300)
    faults = dict(
        rate=0.3,
        kinds=[500, 502, 503, 429, "timeout"],
        timeout_seconds=12.0,
        slow_rate=0.05,
        slow_seconds=35.0,
        seed=10,
    )
    for which in ("chatwoot", "pagerduty"):
        await stack.set_faults(which, **faults)
    try:
        wids = await stack.open_tickets(ids(400_001, n))

        async def ladders_ran() -> bool:  # both pages of every ticket tried at least once
            attempts = await stack.page_attempts(wids)
            return all(attempts[w] >= 2 for w in wids)

        assert await until(ladders_ran, SETTLE), await stack.page_attempts(wids)
    finally:
        for which in ("chatwoot", "pagerduty"):
            await stack.set_faults(which, rate=0.0, slow_rate=0.0)
    pending = await wait_settled(stack, wids)

    async def drained() -> bool:  # a retry in backoff when the faults stop is not stuck: it lands
        return await stack.stuck_activities(wids) == 0

    await until(drained, 90, interval=2.0)
    inv = await invariants(stack, wids, n)
    injected = sum(
        1
        for c in await stack.calls("chatwoot") + await stack.calls("pagerduty")
        if (c.get("response") or {}).get("error") == "injected fault"
    )
    record(
        Row(
            "4 stand-ins fail 30% (5xx, 429, hangs, slow answers)",
            f"{n} tickets",
            inv["lost"],
            inv["duplicated"],
            len(pending) + inv["stuck_activities"],
            f"{injected} injected errors; duplicate messages {inv['dup_msgs']}",
        )
    )
    assert injected > 0, "the fault injection really failed some calls"
    assert inv["lost"] == 0 and inv["failed"] == 0 and not pending, (inv, pending)
    assert inv["duplicated"] == 0 and inv["stuck_activities"] == 0, inv


# ----------------------------------------------------------------------------- 5

FUZZ_ACCEPTED: list[str] = []
FUZZ_STATS = {"inputs": 0, "5xx": 0, "errors": 0}


def _bodies():
    """Webhook bodies: the real payload shapes with a field replaced by any
    JSON (huge and out-of-range numbers, NaN, deep nesting, long strings),
    plus raw bytes, deep brackets and giant strings."""
    from hypothesis import strategies as st

    leaf = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=50)
        | st.sampled_from([2**31, 2**63, 2**64, -(2**31), 0, -1, 10**1200, 1e20, -1e12])
    )
    json_value = st.recursive(
        leaf,
        lambda kids: (
            st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
        ),
        max_leaves=12,
    )
    events = st.sampled_from(
        [
            "conversation_created",
            "conversation_status_changed",
            "conversation_updated",
            "message_created",
            "contact_created",
        ]
    )
    conv = st.builds(
        lambda e, cid: payloads.conversation(e, conv_id=cid, created_at=int(time.time())),
        events,
        st.integers(500_001, 500_200),
    )
    msg = st.builds(
        lambda t, cid: payloads.message(t, conv_id=cid, sender_type="user"),
        st.sampled_from(["incoming", "outgoing", "activity"]),
        st.integers(500_001, 500_200),
    )

    def mutate(body: dict, path: list[str], value):
        target: Any = body
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
            if not isinstance(target, dict):
                return body
        target[path[-1]] = value
        return body

    paths = st.sampled_from(
        [
            ["id"],
            ["created_at"],
            ["timestamp"],
            ["status"],
            ["labels"],
            ["custom_attributes"],
            ["inbox_id"],
            ["meta", "sender", "name"],
            ["meta", "sender", "custom_attributes"],
            ["changed_attributes"],
            ["account"],
            ["messages"],
            ["event"],
            ["message_type"],
            ["conversation", "id"],
            ["conversation", "custom_attributes"],
            ["sender", "id"],
            ["content_attributes"],
            ["private"],
        ]
    )
    mutated = st.builds(
        lambda b, p, v: json.dumps(mutate(b, p, v)).encode(), conv | msg, paths, json_value
    )
    deep = st.integers(50, 5000).map(lambda d: b"[" * d + b"]" * d)
    deep_attr = st.integers(10, 1500).map(
        lambda d: (
            json.dumps(payloads.conversation(conv_id=500_300))
            .encode()
            .replace(
                b'"custom_attributes": {}',
                b'"custom_attributes": {"x": ' + b'{"a":' * d + b"1" + b"}" * d + b"}",
                1,
            )
        )
    )
    huge = st.integers(1_000, 300_000).map(
        lambda n: json.dumps(payloads.conversation(conv_id=500_301, name="x" * n)).encode()
    )
    raw = st.binary(max_size=512)
    ctype = st.sampled_from(
        ["application/json"] * 6
        + [
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
            "application/json; charset=utf-16",
        ]
    )
    return st.tuples(mutated | mutated | mutated | deep | deep_attr | huge | raw, ctype)


def test_5a_generated_bodies_never_get_a_5xx(stack: Stack):
    """Invariant: no body, however malformed, gets a 5xx; the bridge stays up."""
    import httpx
    from hypothesis import HealthCheck, given, settings

    from starter.signatures import sign_chatwoot
    from tests.faults.stack import SECRET

    url = f"{stack.urls['bridge']}/webhooks/chatwoot"
    with httpx.Client(timeout=10) as http:

        @settings(
            max_examples=sized(300, 10_000),
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(_bodies())
        def post(case):
            raw, ctype = case
            FUZZ_STATS["inputs"] += 1
            resp = http.post(
                url, content=raw, headers={"content-type": ctype, **sign_chatwoot(SECRET, raw)}
            )
            if resp.status_code >= 500:
                FUZZ_STATS["5xx"] += 1
            assert resp.status_code < 500, (resp.status_code, resp.text[:300], raw[:300])
            if resp.status_code >= 400 and "error" not in resp.json():
                FUZZ_STATS["errors"] += 1
            if resp.status_code == 202 and resp.json().get("status") == "accepted":
                FUZZ_ACCEPTED.append(resp.json()["workflow_id"])

        post()
        assert http.get(f"{stack.urls['bridge']}/healthz").status_code == 200
    assert FUZZ_STATS["errors"] == 0, FUZZ_STATS


async def test_5b_no_ticket_wedged_by_generated_bodies(stack: Stack):
    """Invariant: every ticket the generated bodies started is running, opened
    (its status answers) and has no activity retrying without end."""
    wids = sorted(set(FUZZ_ACCEPTED))

    async def all_answer():
        for wid in wids:
            try:
                s = await stack.client.get_workflow_handle(wid).query(TicketWorkflow.status)
            except Exception:
                return False
            if s.stage in ("starting", "policy_error"):
                return False
        return True

    answered = await until(all_answer, 120)
    statuses = await stack.statuses(wids)
    lost = sum(
        1
        for s in statuses.values()
        if s not in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED)
    )
    stuck = await stack.stuck_activities(wids, min_attempt=4)
    alive = (await stack.http.get(f"{stack.urls['bridge']}/healthz")).status_code == 200
    record(
        Row(
            "5 generated webhook bodies",
            f"{FUZZ_STATS['inputs']} bodies",
            lost,
            0,
            stuck + (0 if answered else 1),
            f"5xx: {FUZZ_STATS['5xx']}; {len(wids)} tickets started; bridge alive: {alive}",
        )
    )
    assert FUZZ_STATS["inputs"] > 0 and alive and answered and lost == 0 and stuck == 0


# ----------------------------------------------------------------------------- 6


async def test_6_signatures_and_secrets(stack: Stack):
    """Invariant: a bad HMAC, a timestamp outside the 5-minute window, a
    replay of a signed body (inside or after the window) and a missing
    signature get 401 and start nothing; no secret ever appears in a log line."""
    from starter.signatures import sign_chatwoot
    from tests.faults.stack import SECRET, SECRETS

    now = int(time.time())
    body = payloads.conversation(conv_id=600_001, created_at=now)
    raw = json.dumps(body).encode()
    cases = {
        "bad HMAC": sign_chatwoot("not-the-secret", raw),
        "stale timestamp": sign_chatwoot(SECRET, raw, timestamp=now - 400),
        "future timestamp": sign_chatwoot(SECRET, raw, timestamp=now + 400),
        "signature of another body": sign_chatwoot(SECRET, raw + b" "),
        "missing signature": {},
        "missing timestamp": {
            "X-Chatwoot-Signature": sign_chatwoot(SECRET, raw)["X-Chatwoot-Signature"]
        },
    }
    refused = 0
    for name, headers in cases.items():
        resp = await stack.post(raw, headers=headers, sign=False)
        assert resp.status_code == 401 and "error" in resp.json(), (name, resp.status_code)
        refused += 1
    started = await stack.statuses(["ticket-1-600001"])
    assert started["ticket-1-600001"] is None  # nothing started

    signed = sign_chatwoot(SECRET, raw)
    first = await stack.post(raw, headers=signed, sign=False)
    replay = await stack.post(raw, headers=signed, sign=False)
    assert (
        first.status_code == 202
        and replay.status_code == 401
        and "replay" in replay.json()["error"]
    )
    old = sign_chatwoot(SECRET, raw, timestamp=now - 301)  # the same body replayed after the window
    assert (await stack.post(raw, headers=old, sign=False)).status_code == 401

    logs = stack.logs()  # every child runs unbuffered: its log file is complete
    leaked = [s for s in SECRETS if s in logs]
    record(
        Row(
            "6 signatures",
            f"{refused + 3} requests",
            0,
            0,
            0,
            f"401 for {refused} forged/stale/unsigned; replay in window: 401; "
            f"secrets in logs: {len(leaked)}",
        )
    )
    assert not leaked, "a secret appeared in a log line"
    assert "webhook rejected" in logs  # the logs were captured: the rejections are there


# ----------------------------------------------------------------------------- 7


async def test_7_replay_equals_reality_over_every_ticket(stack: Stack):
    """Invariant: after every fault above, each ticket's recorded inputs, replayed
    against the pack content it ran (no Temporal), decide its audit trail action
    for action and instant for instant (dryrun/reality.py): a fault may delay a
    decision, never make the record and what was done disagree."""
    replayed, differences = await replay_every_ticket(stack)
    tickets = len({d.workflow_id for d in differences})
    record(
        Row(
            "7 replay equals reality",
            f"{replayed} tickets",
            0,
            0,
            tickets,
            f"{len(differences)} differences between replay and audit trail",
        )
    )
    assert replayed >= 50 and not differences, "\n".join(
        f"{d.workflow_id} {d.key} {d.what}" for d in differences[:40]
    )
