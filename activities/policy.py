"""Policy loading as an activity: a ticket records the pack it started with
in its history (the result of this call), so editing a YAML file never
changes a running ticket; continue-as-new carries the pinned copy on.

New tickets call `load_packed` (see models/policy_io.PackedPolicy for why);
`load` stays registered for tickets whose history already scheduled it.

Given the audit pool, each pack content loaded is also kept in
`pack_versions` (migrations/0004), once per content and process, so a
what-if run replays a recorded ticket against the pack it really ran. That
write never fails a load: a ticket must start while Postgres is down.

The worker's shadow settings (models/shadow.py) travel with the pack: a new
ticket learns from `load_packed` whether it runs in shadow, and a ticket in
shadow asks `mode` before each decision whether it still does."""

from __future__ import annotations

import hashlib
from pathlib import Path

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine.policy_loader import PolicyError, load_policy
from models.policy import Policy
from models.policy_io import LoadPolicyInput, PackedPolicy
from models.shadow import ModeQuery, ShadowScope, TicketMode

log = structlog.get_logger(__name__)

STORE_TIMEOUT = 2.0  # seconds: a slow Postgres must not eat a local attempt's 3-second budget


class PolicyActivities:
    def __init__(self, policies_dir: Path, pool=None, shadow: ShadowScope | None = None) -> None:
        self.policies_dir = Path(policies_dir)
        self.pool = pool  # asyncpg pool: keep each loaded content in `pack_versions`
        # The packs and inboxes in shadow mode (SHADOW_POLICIES, SHADOW_INBOXES); read, never
        # copied, at each call.
        self.shadow = shadow if shadow is not None else ShadowScope()
        self._stored: set[str] = set()  # content hashes this process has written

    @activity.defn(name="policy.load")
    async def load(self, inp: LoadPolicyInput) -> Policy:
        try:
            # Parsed once per file content.
            policy = load_policy(inp.name, self.policies_dir, shared=True)
        except PolicyError as exc:
            raise ApplicationError(str(exc), type="PolicyError", non_retryable=True) from None
        if self.pool is not None:
            await self._store(policy)
        return policy

    async def _store(self, policy: Policy) -> None:
        data = policy.model_dump_json()
        sha = hashlib.sha256(data.encode()).hexdigest()  # engine.shared_policy.content_key
        if sha in self._stored:
            return
        try:
            await self.pool.execute(
                """INSERT INTO pack_versions (name, version, sha256, policy_json)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (name, version, sha256) DO NOTHING""",
                policy.name,
                policy.version,
                sha,
                data,
                timeout=STORE_TIMEOUT,
            )
            self._stored.add(sha)
        except Exception as exc:
            log.warning(
                "pack content not stored",
                policy=policy.name,
                version=policy.version,
                error=str(exc),
            )

    @activity.defn(name="policy.load_packed")
    async def load_packed(self, inp: LoadPolicyInput) -> PackedPolicy:
        packed = PackedPolicy.of(await self.load(inp))
        packed.shadow = self.shadow.why(inp.name, inp.inbox_id)
        return packed

    @activity.defn(name="policy.mode")
    async def mode(self, inp: ModeQuery) -> TicketMode:
        """Whether a ticket of this pack and inbox runs in shadow mode on this worker now."""
        return TicketMode(shadow=self.shadow.why(inp.policy, inp.inbox_id))


def policy_activities(policies_dir: Path, pool=None, shadow: ShadowScope | None = None) -> list:
    """The loaders and the mode, for a worker: new tickets call `load_packed`, older
    ones `load` (with `pool`, each pack content loaded is kept in `pack_versions`);
    `shadow`: the packs and inboxes in shadow mode (none by default)."""
    loader = PolicyActivities(policies_dir, pool, shadow)
    return [loader.load_packed, loader.load, loader.mode]
