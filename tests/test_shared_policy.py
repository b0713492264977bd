"""Cached workflows share one copy of a pack; sharing never changes a decision."""

from __future__ import annotations

from dryrun.scenario import load_scenario
from dryrun.simulate import run_scenario
from engine import shared_policy
from engine.policy_loader import load_policy
from models.policy_io import PackedPolicy
from tests.helpers import POLICIES_DIR, SCENARIOS


def test_same_content_is_one_object_and_an_edit_is_another():
    a, b = load_policy("vip-concierge", POLICIES_DIR), load_policy("vip-concierge", POLICIES_DIR)
    assert a is not b and shared_policy.shared(a) is shared_policy.shared(b)
    edited = b.model_copy(deep=True)
    edited.clocks["first_ack"].duration = (
        edited.clocks["first_ack"].duration * 2
    )  # same name and version
    assert (
        shared_policy.shared(edited) is edited
    )  # content decides, so no ticket gets another's pack


async def test_shared_packs_are_not_changed_by_running_tickets(ts_env, pg_pool):
    # Packs shared before (a saved history's packed pack, hashed under the model it was
    # recorded with, unpacks with fields added since): each must keep its content as of now.
    before = {key: shared_policy.content_key(p) for key, p in shared_policy._SHARED.items()}
    for name in ("vip_4_refund_over_200_escalation", "vip_2_lola_paged_and_acknowledges"):
        scenario = load_scenario(SCENARIOS / f"{name}.yaml", lambda p: load_policy(p, POLICIES_DIR))
        await run_scenario(scenario, ts_env, pg_pool, POLICIES_DIR)
    assert shared_policy._SHARED
    for key, policy in shared_policy._SHARED.items():
        expected = before.get(key, key)
        assert shared_policy.content_key(policy) == expected, f"{policy.name} changed by a workflow"


def test_a_packed_pack_unpacks_to_the_same_content_and_shares_its_object():
    for name in ("vip-concierge", "ops-ladder", "lifecycle", "tier-escalation"):
        policy = load_policy(name, POLICIES_DIR)
        packed = PackedPolicy.of(policy)
        assert packed.unpack() == policy and packed.sha256 == shared_policy.content_key(policy)
        assert len(packed.model_dump_json()) < len(policy.model_dump_json()) / 3, name
        # the packed path and the plain one (older tickets) meet on one object
        assert shared_policy.shared_packed(packed) is shared_policy.shared(
            load_policy(name, POLICIES_DIR)
        )
