"""The policy packs as the console needs them: parties to pick, escalation
reasons, and the typed handoff form generated from a pack's HandoffSpec.

The form only *collects* values: the ticket's validator (the engine's
`validate_payload`) checks them and the console shows its refusal, so the
rules live in one place. Fields the ticket fills itself (`source:`,
`const:`, and the `reason_field` filled from the reason) are shown as such,
not asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.policy_loader import PolicyError, available, load_policy
from models.policy import HandoffSpec, Policy


@dataclass(frozen=True)
class FormField:
    name: str
    type: str  # int, uuid, bool, text, str, enum, number
    required: bool
    values: list[str]
    filled_by: (
        str | None
    )  # why the operator does not type it: "from the ticket", "fixed", "the reason"

    @property
    def input_type(self) -> str:
        return {"int": "number", "number": "number", "bool": "checkbox"}.get(self.type, "text")

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


@dataclass(frozen=True)
class EscalationForm:
    reason: str
    handoff: str
    title: str
    default_target: str
    targets: list[str]
    fields: list[FormField]


class Packs:
    """Packs loaded once from POLICIES_DIR (the console reads the current files;
    a ticket keeps the version it pinned, and its validator has the last word)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, Policy | None] = {}

    def names(self) -> list[str]:
        return available(self.directory)

    def get(self, name: str | None) -> Policy | None:
        if not name:
            return None
        if name not in self._cache:
            try:
                self._cache[name] = load_policy(name, self.directory)
            except PolicyError:
                self._cache[name] = None
        return self._cache[name]

    def people(self) -> list[tuple[str, str]]:
        """(party id, display name) of every person and team in every pack, for pickers."""
        seen: dict[str, str] = {}
        for name in self.names():
            p = self.get(name)
            if p:
                for pid, party in {**p.people, **p.teams}.items():
                    seen.setdefault(pid, party.name)
        return sorted(seen.items())

    def parties(self, policy: str | None) -> list[tuple[str, str]]:
        p = self.get(policy)
        return (
            sorted((pid, party.name) for pid, party in {**p.people, **p.teams}.items()) if p else []
        )


def escalation_form(policy: Policy, reason: str) -> EscalationForm | None:
    route = policy.escalations.get(reason)
    spec: HandoffSpec | None = policy.handoffs.get(route.handoff) if route else None
    if route is None or spec is None:
        return None
    fields = []
    for name, f in spec.payload.items():
        filled_by = (
            "the reason"
            if name == spec.reason_field
            else "fixed"
            if f.const is not None
            else f"from the ticket ({f.source})"
            if f.source
            else None
        )
        fields.append(FormField(name, f.type, f.required, list(f.values or []), filled_by))
    targets = list(dict.fromkeys([route.target, *spec.to]))
    return EscalationForm(
        reason, route.handoff, route.title or spec.title, route.target, targets, fields
    )


def payload_from_form(form: EscalationForm, values: dict[str, str]) -> dict[str, object]:
    """The payload to send: typed fields the operator filled (blank ones left
    out, so the ticket fills or refuses them); checkboxes as booleans."""
    payload: dict[str, object] = {}
    for f in form.fields:
        if f.filled_by:
            continue
        key = f"payload.{f.name}"
        if f.type == "bool":
            payload[f.name] = values.get(key) in ("on", "true", "1")
        elif values.get(key, "").strip():
            payload[f.name] = values[key].strip()
    return payload
