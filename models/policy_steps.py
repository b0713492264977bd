"""What a policy pack does: a step (page, note, message, assign, level,
handoff ...) and the event rules that run steps. SLA clocks
(models/policy_clocks.py) and handoffs (models/policy_handoffs.py) walk
lists of these same steps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from models.policy_terms import Condition, Duration, EventName, RuleTrigger, _Strict

StepAction = Literal[
    "page",  # PagerDuty trigger to `target` (dedup key stable per ticket and ladder step)
    "resolve_pages",  # PagerDuty resolve for pages this clock/handoff raised
    "assign",  # Chatwoot assignment + owner change
    "label",
    "unlabel",
    "note",  # Chatwoot private note
    "message",  # Chatwoot public message (suppressed while the pack's `silent_when` holds)
    "status",  # Chatwoot status
    "stage",  # ticket stage (mirrored to Chatwoot as a custom attribute)
    "level",  # escalation level (never goes down)
    "handoff",  # start a handoff workflow
    "audit",  # a row in an audit table
    "close",
    "reopen",
    "count_recent_level",  # read other tickets' history: sets fact `recent_level_count`
    "emit",  # raise an event of this pack (e.g. to chain rules)
    "slack",  # Slack post to `target`'s channel, or a DM to a person (kept current, with buttons)
    "email",  # e-mail to `target`'s address
]


class Step(_Strict):
    """One action of a ladder or rule, `after` its trigger (breach, event)."""

    do: StepAction = Field(
        description="What the step does: page, note, message, assign, level, handoff, close ..."
    )
    after: Duration = Field(
        timedelta(0), description="Delay after the trigger (breach, event): `30m`, `4h`."
    )
    when: Condition = Field(default_factory=dict, description="Run only if these facts hold then.")
    # `target` names a party, or: owner, backup (of the owner when the step was
    # triggered), backup2 (backup's backup), handoff_target, secondary (of the
    # handoff), previous_owner, coverage (whoever coverage gives the ticket now).
    target: str | None = Field(
        None,
        description="A person or team id, or owner, backup, backup2, handoff_target, "
        "secondary, previous_owner, coverage.",
    )
    template: str | None = Field(None, description="A template id (note, message, slack, email).")
    label: str | None = None
    status: Literal["open", "resolved", "pending", "snoozed"] | None = None
    stage: str | None = None
    level: int | None = None
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    handoff: str | None = Field(None, description="The handoff id to start (do: handoff).")
    reason: str | None = Field(
        None, description="The handoff reason, for handoffs started by a step."
    )
    table: (
        Literal[
            "vip_concierge_action",
            "support_escalations",
            "founder_pull",
            "vip_flag_change",
            "decision_log",
        ]
        | None
    ) = None
    fields: dict[str, Any] = Field(default_factory=dict)
    event: EventName | None = Field(None, description="The event to raise (do: emit).")
    window: Duration | None = Field(None, description="count_recent_level: the look-back window.")
    summary: str | None = Field(
        None, description="A summary for people (Temporal Web UI, page text)."
    )

    @model_validator(mode="after")
    def _needs(self) -> Step:
        need = (
            {
                "page": ["target"],
                "assign": ["target"],
                "label": ["label"],
                "unlabel": ["label"],
                "note": ["template"],
                "message": ["template"],
                "status": ["status"],
                "stage": ["stage"],
                "level": ["level"],
                "handoff": ["handoff"],
                "audit": ["table"],
                "emit": ["event"],
                "count_recent_level": ["level", "window"],
                "slack": ["target", "template"],
                "email": ["target", "template"],
            }[self.do]
            if self.do
            in {
                "page",
                "assign",
                "label",
                "unlabel",
                "note",
                "message",
                "status",
                "stage",
                "level",
                "handoff",
                "audit",
                "emit",
                "count_recent_level",
                "slack",
                "email",
            }
            else []
        )
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"step '{self.do}' needs {', '.join(missing)}")
        return self


class RuleSpec(_Strict):
    """On an event (and a condition), run steps: auto-ack on open, a label on
    acknowledgement, a continuity message on escalation."""

    on: RuleTrigger = Field(
        description="The event, or `condition_met`: once, the first time `when` holds."
    )
    when: Condition = Field(
        default_factory=dict, description="Facts (and the event's context) that must hold."
    )
    do: list[Step]
