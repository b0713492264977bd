"""A pydantic base for the small models a cached ticket keeps by the dozen.

Pydantic gives every instance its own `__pydantic_fields_set__`: a set of
the field names passed in, 216 bytes empty and 728 bytes from five names
on. A ticket holds tens of these models (its clocks, pending steps, ladder
entries, pages, the ticket and contact) for as long as it is cached, so
per-instance sets alone would take several KiB per open ticket.

`CompactModel` gives every instance of a class one shared set instead: all
of the class's field names. That set is never changed in place: assigning
a field adds a name that is already there (a no-op), and `model_copy`
copies the set before updating it. What it changes is that
`model_fields_set` reports every field as set, so `exclude_unset=True`
would no longer drop defaults: nothing in ticketflow asks for it (the
Temporal pydantic converter and FastAPI serialize with `exclude_unset`
False), so every payload and response is byte-identical. Do not use this
base for a model whose callers need to tell set from defaulted fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_ALL_FIELDS: dict[type, set[str]] = {}  # one shared set per class, filled on its first instance


class CompactModel(BaseModel):
    def model_post_init(self, context: Any, /) -> None:
        """Swap the instance's own fields-set for the class's shared one (see the module doc)."""
        cls = type(self)
        shared = _ALL_FIELDS.get(cls)
        if shared is None:
            # extra="allow" would add undeclared names to the shared set: not supported.
            assert cls.model_config.get("extra") != "allow", (
                f"{cls.__name__}: CompactModel needs declared fields"
            )
            shared = _ALL_FIELDS[cls] = set(cls.model_fields)
        object.__setattr__(self, "__pydantic_fields_set__", shared)
