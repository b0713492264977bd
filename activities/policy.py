"""Policy loading as an activity: a ticket records the pack it started with
in its history (the result of this call), so editing a YAML file never
changes a running ticket; continue-as-new carries the pinned copy on.

New tickets call `load_packed` (see models/policy_io.PackedPolicy for why);
`load` stays registered for tickets whose history already scheduled it."""

from __future__ import annotations

from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine.policy_loader import PolicyError, load_policy
from models.policy import Policy
from models.policy_io import LoadPolicyInput, PackedPolicy


class PolicyActivities:
    def __init__(self, policies_dir: Path) -> None:
        self.policies_dir = Path(policies_dir)

    @activity.defn(name="policy.load")
    async def load(self, inp: LoadPolicyInput) -> Policy:
        try:
            return load_policy(inp.name, self.policies_dir, shared=True)  # parsed once per file content
        except PolicyError as exc:
            raise ApplicationError(str(exc), type="PolicyError", non_retryable=True) from None

    @activity.defn(name="policy.load_packed")
    async def load_packed(self, inp: LoadPolicyInput) -> PackedPolicy:
        return PackedPolicy.of(await self.load(inp))


def policy_activities(policies_dir: Path) -> list:
    """Both loaders, for a worker: new tickets call `load_packed`, older ones `load`."""
    loader = PolicyActivities(policies_dir)
    return [loader.load_packed, loader.load]
