"""Record workflow histories for the replay test.

    .venv/bin/python -m tests.histories.record            # only scenarios with no saved history
    .venv/bin/python -m tests.histories.record --force    # re-record all (rarely right)

Runs a few VIP scenarios on the time-skipping server and saves each ticket's
history (and its handoffs') as JSON here. Re-record only when a change is
*meant* to break running tickets' histories, which it must not be without
`workflow.patched`: the replay test exists to catch exactly that.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from engine.policy_loader import load_policy
from infra import db
from infra.embedded_pg import EmbeddedPostgres
from infra.environments import time_skipping_environment
from infra.temporal import register_search_attributes
from dryrun.scenario import load_scenario
from dryrun.simulate import run_scenario

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SCENARIOS = ["vip_2_lola_paged_and_acknowledges", "vip_4_refund_over_200_escalation", "vip_5_founder_pull_times_out",
             "vip_6_audit_trail", "ops_2_s2_climbs_to_lead_then_manager", "life_5_refund_over_100_supervisor",
             "life_6_reply_in_verification_reopens", "tier_2_tier1_to_tier2_and_cadence",
             # recorded with the `sop-event-orders` patch
             "tier_6_raised_to_critical", "tier_7_handoff_notifies_its_target", "ops_6_severity_set_after_reply",
             "tier_9_backfill_of_an_old_conversation",
             # recorded with the Web UI metadata: static summary/details on the ticket's
             # and the handoff's start, current details set after every batch
             "vip_4_web_ui_metadata",
             # recorded with the `batched-actions` patch: saved as batched_<scenario>
             "batched_vip_2_lola_paged_and_acknowledges", "batched_vip_4_refund_over_200_escalation",
             "batched_ops_2_s2_climbs_to_lead_then_manager", "batched_tier_7_handoff_notifies_its_target",
             # recorded with the `local-lanes` patch (PagerDuty, audit and policy calls as local
             # activities): saved as local_<scenario>
             "local_vip_2_lola_paged_and_acknowledges", "local_vip_4_refund_over_200_escalation",
             "local_ops_2_s2_climbs_to_lead_then_manager", "local_tier_7_handoff_notifies_its_target",
             # recorded with one `patches-2026-12` marker standing for all of the above (workflows/versions.py):
             # saved as bundled_<scenario>
             "bundled_vip_2_lola_paged_and_acknowledges", "bundled_vip_4_refund_over_200_escalation",
             "bundled_ops_2_s2_climbs_to_lead_then_manager", "bundled_tier_7_handoff_notifies_its_target",
             # recorded with `patches-2026-12b`, which adds `packed-policy` (the pack loads compressed):
             # saved as packed_<scenario>
             "packed_vip_2_lola_paged_and_acknowledges", "packed_vip_4_refund_over_200_escalation",
             "packed_ops_2_s2_climbs_to_lead_then_manager", "packed_tier_7_handoff_notifies_its_target",
             # recorded with `patches-2026-12c`, which adds `ticket-inputs` (each decision's engine inputs
             # written to `ticket_inputs`, workflows/inputs.py): saved as inputs_<scenario>
             "inputs_vip_2_lola_paged_and_acknowledges", "inputs_vip_4_refund_over_200_escalation",
             "inputs_ops_2_s2_climbs_to_lead_then_manager", "inputs_tier_7_handoff_notifies_its_target",
             "inputs_ops_3_s1_level3_and_customer_update",
             # recorded with `patches-2026-12d`, which adds `decision-upserts` (search attributes upserted in
             # the deciding task, before its actions run): saved as upserts_<scenario>
             "upserts_vip_2_lola_paged_and_acknowledges", "upserts_vip_4_refund_over_200_escalation",
             "upserts_ops_2_s2_climbs_to_lead_then_manager", "upserts_tier_7_handoff_notifies_its_target",
             "upserts_ops_3_s1_level3_and_customer_update",
             # recorded with `patches-2026-12e`, which adds `background-lanes` (side effects in
             # lanes beside the loop, events in the order they happened): saved as lanes_<scenario>
             "lanes_vip_2_lola_paged_and_acknowledges", "lanes_vip_4_refund_over_200_escalation",
             "lanes_ops_2_s2_climbs_to_lead_then_manager", "lanes_tier_7_handoff_notifies_its_target",
             "lanes_ops_3_s1_level3_and_customer_update",
             # recorded with `patches-2026-12f`, which adds `held-timers` (a timer armed once the
             # task's local activities are done): saved as held_<scenario>
             "held_vip_2_lola_paged_and_acknowledges", "held_vip_4_refund_over_200_escalation",
             "held_ops_2_s2_climbs_to_lead_then_manager", "held_tier_7_handoff_notifies_its_target",
             "held_ops_3_s1_level3_and_customer_update"]
# saved history name -> the scenario it runs, when they differ
SCENARIO_OF = {"vip_4_web_ui_metadata": "vip_4_refund_over_200_escalation"}
NEWER_CODE = ("batched_", "local_", "bundled_", "packed_", "inputs_", "upserts_", "lanes_", "held_")  # prefix: the same scenario, recorded by newer code


@asynccontextmanager
async def recording_env() -> AsyncIterator[tuple[WorkflowEnvironment, object]]:
    """A time-skipping server with the search attributes and a fresh embedded
    Postgres (migrated), for recording; everything stopped on leaving."""
    pg = EmbeddedPostgres(Path(tempfile.mkdtemp()) / "pg", database="record")
    dsn = await pg.start()
    await db.migrate(dsn)
    pool = await db.create_pool(dsn)
    env = await time_skipping_environment()
    try:
        await register_search_attributes(env.client, "default")
        yield env, pool
    finally:
        await env.shutdown()
        await pool.close()
        await pg.stop()


def save(name: str, histories: list[tuple[str, object]]) -> None:
    """Write `name`.json here: [{workflow_id, history}] as the replay test reads it."""
    (HERE / f"{name}.json").write_text(json.dumps(
        [{"workflow_id": wid, "history": json.loads(h.to_json())} for wid, h in histories], indent=1))
    print(f"saved {name}: {len(histories)} histories")


async def main() -> None:
    policies = ROOT / "policies"
    async with recording_env() as (env, pool):
        for name in SCENARIOS:
            if (HERE / f"{name}.json").exists() and "--force" not in sys.argv:
                continue  # an existing history is the point: it was recorded by older code
            source = SCENARIO_OF.get(name, name)
            for prefix in NEWER_CODE:
                source = source.removeprefix(prefix)
            scenario = load_scenario(ROOT / "tests" / "scenarios" / f"{source}.yaml", lambda p: load_policy(p, policies))
            result = await run_scenario(scenario, env, pool, policies)
            history = await env.client.get_workflow_handle(result.workflow_id).fetch_history()
            ids = [e.start_child_workflow_execution_initiated_event_attributes.workflow_id for e in history.events
                   if e.HasField("start_child_workflow_execution_initiated_event_attributes")]
            saved = [(result.workflow_id, history)]
            for child in ids:
                saved.append((child, await env.client.get_workflow_handle(child).fetch_history()))
            save(name, saved)

if __name__ == "__main__":
    asyncio.run(main())
