"""One in-memory copy of each policy pack for all cached workflows.

Every ticket (and handoff) receives its pinned pack as a payload and the
SDK deserializes a fresh copy for each: ~150 KiB for the VIP pack, most
of a cached ticket's memory if each kept its own. Workflows import this
module passed through the sandbox, so its table is shared by all of them:
a pack with the same content (hashed) is the same object. Packs are
read-only to the decision core, so sharing changes no decision; and the
content hash, not the name and version, decides, so an edited pack never
leaks into a ticket pinned to the old content.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from models.policy import Policy
from models.policy_io import PackedPolicy

_SHARED: OrderedDict[str, Policy] = OrderedDict()
_MAX = 256  # distinct pack contents alive at once; more only costs memory, never correctness


def content_key(policy: Policy) -> str:
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()


def shared(policy: Policy) -> Policy:
    """The shared object with this policy's content (registering it if new)."""
    return _shared(content_key(policy), lambda: policy)


def shared_packed(packed: PackedPolicy) -> Policy:
    """The shared object with this packed policy's content: unpacked only
    when no cached workflow holds it yet (the hash is of the same JSON as
    `content_key`, so both paths share one object)."""
    return _shared(packed.sha256, packed.unpack)


def _shared(key: str, make: Callable[[], Policy]) -> Policy:
    found = _SHARED.get(key)
    if found is None:
        _SHARED[key] = found = make()
        while len(_SHARED) > _MAX:
            _SHARED.popitem(last=False)
    else:
        _SHARED.move_to_end(key)
    return found
