"""`ticketflow whatif` on tickets recorded by real workflows (tests/whatif_scenario.py):
the pack in force reproduces what happened; a draft whose first acknowledgment is due
in 20 minutes instead of 30 shows the extra pages, their tickets and the people paged.
No Chatwoot, PagerDuty or audit call is made by a what-if run."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.helpers import POLICIES_DIR
from tests.whatif_scenario import draft_with_first_ack

PERIOD = ["--since", "2026-11-17", "--until", "2026-11-18"]


async def ticketflow(dsn: str, *args: str) -> tuple[int, str, str]:
    """The installed command in a process of its own, as a support lead runs it (in-process,
    its logging set-up would outlive the test): exit code, stdout, stderr."""
    env = {**os.environ, "DATABASE_URL": dsn}
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticketflow"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None  # communicate() waits for the exit
    return proc.returncode, out.decode(), err.decode()


async def whatif(postgres_dsn, draft, scenario, *extra) -> tuple[int, str]:
    code, out, err = await ticketflow(
        postgres_dsn, "whatif", str(draft), *PERIOD, "--inbox", str(scenario.inbox), *extra
    )
    assert code in (0, 1), err
    return code, out


async def audit_rows(pool) -> int:
    return await pool.fetchval(
        "SELECT (SELECT count(*) FROM ticket_events) + (SELECT count(*) FROM ticket_inputs)"
    )


async def test_the_pack_in_force_reproduces_what_happened(
    scenario, postgres_dsn, pg_pool, tmp_path
):
    before, calls = await audit_rows(pg_pool), len(scenario.recorder.entries)
    draft = tmp_path / "vip-concierge.yaml"
    draft.write_text((POLICIES_DIR / "vip-concierge.yaml").read_text())
    code, out = await whatif(postgres_dsn, draft, scenario, "--json", "--check-driver")
    report = json.loads(out)
    assert code == 0, report["differences_from_reality"]
    assert report["differences_from_reality"] == [] and report["changed_tickets"] == []
    assert report["current"]["tickets"] == 4 and report["current"] == report["draft"]
    # late: Lola at 10:30 and Jonathan at 11:00; the handoff's on-failure ladder pages them too
    assert report["current"]["pages"] == {"jonathan": 2, "lola": 2}
    assert list(report["versions"]) and report["content_unavailable"] == {}
    code, text = await whatif(postgres_dsn, draft, scenario)
    assert code == 0 and "Replay vs reality: no difference (4 tickets" in text
    assert (
        await audit_rows(pg_pool) == before and len(scenario.recorder.entries) == calls
    )  # no side effect


async def test_a_20_minute_first_ack_shows_the_extra_pages_and_who_they_hit(
    scenario, postgres_dsn, tmp_path
):
    draft = draft_with_first_ack(tmp_path, 20)
    code, out = await whatif(
        postgres_dsn, draft, scenario, "--json", "--out", str(tmp_path / "out")
    )
    report = json.loads(out)
    assert code == 0, report[
        "differences_from_reality"
    ]  # reality is the same whatever the draft says
    cur, new = report["current"], report["draft"]
    assert (
        new["pages"]["lola"] == cur["pages"]["lola"] + 1
    )  # close_call: paged at 10:20, acknowledged at 10:25
    assert new["breaches"]["first_ack"] == cur["breaches"]["first_ack"] + 1
    changed = {c["ticket"]: c for c in report["changed_tickets"]}
    t = scenario.tickets
    assert set(changed) == {
        t["late"],
        t["close_call"],
    }  # early (10:10) and the handoff's ticket do not change
    close_call = changed[t["close_call"]]
    assert [
        (a["action"], a["target"])
        for a in close_call["added"]
        if a["action"] == "pagerduty.trigger"
    ] == [("pagerduty.trigger", "lola")]
    assert any(a["at"].endswith("10:20:00") for a in close_call["added"])
    late = changed[t["late"]]
    assert {
        (a["target"], a["at"][-8:]) for a in late["added"] if a["action"] == "pagerduty.trigger"
    } == {("lola", "10:20:00"), ("jonathan", "10:50:00")}
    assert {
        (a["target"], a["at"][-8:]) for a in late["removed"] if a["action"] == "pagerduty.trigger"
    } == {("lola", "10:30:00"), ("jonathan", "11:00:00")}
    assert close_call["url"].endswith(f"/namespaces/default/workflows/{t['close_call']}")
    assert new["first_page_p50_s"] < cur["first_page_p50_s"]
    svg = (tmp_path / "out" / "whatif-heatmap.svg").read_text()
    assert (
        svg.startswith("<svg")
        and "style=" not in svg
        and f"draft draft-20m: {sum(new['pages'].values())} pages" in svg
    )
    code, text = await whatif(postgres_dsn, draft, scenario)
    assert (
        code == 0
        and f"{t['close_call']}  (pages: lola)" in text
        and "+ Tue 2026-11-17 10:20:00  page -> lola" in text
    )
    # who the change hits: Lola paged more often on both tickets, Jonathan moved on one
    assert (
        "  lola: pages +2 -1 on 2 tickets; paged more often on " in text and t["close_call"] in text
    )
    assert "  jonathan: pages +1 -1 on 1 tickets" in text


async def test_an_unreadable_draft_or_database_exits_2(tmp_path, postgres_dsn):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    code, _, err = await ticketflow(postgres_dsn, "whatif", str(bad))
    assert code == 2 and "draft:" in err
    good = draft_with_first_ack(tmp_path, 20)
    code, _, err = await ticketflow("postgresql://x@127.0.0.1:1/none", "whatif", str(good))
    assert code == 2 and "Postgres" in err


async def test_a_draft_handoff_timeout_moves_the_handoffs_pages(scenario, postgres_dsn, tmp_path):
    """The draft's handoff runs in-process: its timeout and on-failure ladder are decided again."""
    text = (POLICIES_DIR / "vip-concierge.yaml").read_text()
    block = "    success: acknowledged\n    timeout: 30m\n    secondary: jonathan\n"
    # the first is the over-authority handoff (to Alliyson, who does not pick it up)
    assert text.index("  over_authority:") < text.index(block) < text.index("  t2_dispute:")
    draft = tmp_path / "vip-concierge.yaml"
    draft.write_text(
        text.replace(block, block.replace("30m", "15m"), 1).replace(
            '"2026-11-22.1"', '"handoff-15m"', 1
        )
    )
    code, out = await whatif(postgres_dsn, draft, scenario, "--json")
    report = json.loads(out)
    assert code == 0, report["differences_from_reality"]
    [changed] = report["changed_tickets"]
    assert changed["ticket"] == scenario.tickets["handoff"]

    def pages(side: str) -> set[tuple[str, str]]:
        return {
            (a["target"], a["at"][-8:]) for a in changed[side] if a["action"] == "pagerduty.trigger"
        }

    assert pages("added") == {("lola", "10:15:00"), ("jonathan", "10:45:00")}
    assert pages("removed") == {("lola", "10:30:00"), ("jonathan", "11:00:00")}


async def test_a_difference_from_reality_is_reported_and_exits_1(
    scenario, postgres_dsn, pg_pool, tmp_path
):
    """Last in this module: it adds an audit row no replay decides (as a workflow bug would)."""
    late = scenario.tickets["late"]
    await pg_pool.execute(
        """INSERT INTO ticket_events (idempotency_key, workflow_id, account_id,
                                      conversation_id, policy, action, target, details,
                                      at_time)
           VALUES ($1, $2, 1, 1, 'vip-concierge', 'sla.breached', 'alicia', '{}'::jsonb,
                   '2026-11-17T16:40:00Z')""",
        f"{late}:999",
        late,
    )
    code, text = await whatif(postgres_dsn, draft_with_first_ack(tmp_path, 20), scenario)
    assert code == 1
    assert "Replay vs reality: 1 DIFFERENCE on 1 ticket (a defect in the recording" in text
    assert (
        f"{late}  {late}:999  audit trail has sla.breached -> alicia at 2026-11-17T16:40:00+00:00; "
        f"the replay did not decide it" in text
    )
