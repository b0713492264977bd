"""Input and packed result of the policy-loading activity."""

from __future__ import annotations

import base64
import hashlib
import zlib

from pydantic import BaseModel, Field

from models.policy import Policy


class LoadPolicyInput(BaseModel):
    name: str = Field(min_length=1)
    inbox_id: int | None = None  # the ticket's inbox: for the worker's SHADOW_INBOXES


class PackedPolicy(BaseModel):
    """A policy pack as `policy.load_packed` returns it: its JSON, zlib
    compressed, with the name, version and content hash in clear for the
    history's reader.

    Why packed: the result is recorded in every ticket's history. The VIP
    pack is ~24 KB of JSON (24 of a new ticket's 28 KB opening history),
    ~5 KB packed; and a replay (after a restart or a cache eviction) finds
    the parsed pack by its hash instead of parsing it again. It does not
    change a cached ticket's memory measurably: the SDK frees an activity's
    result at the next workflow task (README, Performance). The pack itself
    is in git (`policies/`, by version); the hash names its content.
    """

    name: str
    version: str
    sha256: str  # of the JSON: engine.shared_policy's key, so equal packs share one parsed object
    json_zlib_b64: str
    # Why tickets of this pack and inbox run in shadow mode on this worker (models/shadow.py);
    # None: live. Not part of the content (nor of its hash).
    shadow: str | None = None

    @classmethod
    def of(cls, policy: Policy) -> PackedPolicy:
        data = policy.model_dump_json().encode()
        return cls(
            name=policy.name,
            version=policy.version,
            sha256=hashlib.sha256(data).hexdigest(),
            json_zlib_b64=base64.b64encode(zlib.compress(data, 9)).decode("ascii"),
        )

    def unpack(self) -> Policy:
        """The pack (pure and deterministic: safe inside a workflow)."""
        return Policy.model_validate_json(zlib.decompress(base64.b64decode(self.json_zlib_b64)))
