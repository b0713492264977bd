"""Typed handoffs of a policy pack (the SOP's HANDOFF blocks): the payload
fields, the targets, what counts as success, the timeout and the steps run
on start, success and failure; and the escalation routes that map a reason
to a target and a handoff.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from models.policy_steps import Step
from models.policy_terms import Duration, _Strict


class PayloadField(_Strict):
    """One field of a handoff's typed payload."""

    type: Literal["int", "uuid", "bool", "text", "str", "enum", "number"]
    values: list[str] | None = Field(None, description="The allowed values (type: enum).")
    required: bool = True
    const: Any = Field(None, description="A value the field must have (vip_flag: true).")
    source: str | None = Field(
        None, description="Fill from the ticket when not given (e.g. conversation_id)."
    )

    @model_validator(mode="after")
    def _enum_values(self) -> PayloadField:
        if self.type == "enum" and not self.values:
            raise ValueError("enum fields need values")
        return self


class HandoffSpec(_Strict):
    """A typed handoff (the SOP's HANDOFF blocks): who to whom, the payload,
    what counts as success, the timeout and what happens on failure."""

    title: str
    from_: str | None = Field(
        default=None, alias="from", description="Who usually hands off (a person or team id)."
    )
    to: list[str] = Field(
        description="Allowed targets (person or team ids); the first is the default."
    )
    payload: dict[str, PayloadField] = Field(
        default_factory=dict, description="The typed fields the handoff carries."
    )
    reason_field: str | None = Field(
        None, description="The payload enum that holds the escalation reason."
    )
    success: Literal["acknowledged", "decision"] = "acknowledged"
    decisions: list[str] = Field(default_factory=list)
    timeout: Duration = Field(description="How long the target has to answer: `30m`, `4h`.")
    calendar: str | None = Field(
        None, description="Count the timeout in business time of this calendar."
    )
    # How the target hears of it, the moment it starts: assign, label, a
    # private note with the payload (`{payload}`), a page. Steps may use
    # `target: handoff_target`.
    on_start: list[Step] = Field(default_factory=list)
    on_failure: list[Step] = Field(default_factory=list)
    on_success: list[Step] = Field(default_factory=list)
    secondary: str | None = Field(
        None, description="The second target (usable in steps as `target: secondary`)."
    )

    @model_validator(mode="after")
    def _decisions(self) -> HandoffSpec:
        if self.success == "decision" and not self.decisions:
            raise ValueError("a decision handoff needs decisions")
        if self.reason_field and (
            self.reason_field not in self.payload or self.payload[self.reason_field].type != "enum"
        ):
            raise ValueError(
                f"reason_field {self.reason_field!r} must be an enum field of the payload"
            )
        return self


class EscalationRoute(_Strict):
    """Where an escalation reason goes: target and handoff spec."""

    target: str = Field(description="Who the reason escalates to (one of the handoff's `to`).")
    handoff: str = Field(description="The handoff id under `handoffs:`.")
    title: str | None = None
