"""One Chatwoot activity for all Chatwoot actions of a decision.

Each op runs the same code as its single activity (ChatwootActivities), in
order. An op Chatwoot refuses for good (a 4xx, bad input) is reported in
its outcome and the rest go on; a retryable failure (timeout, 429, 5xx)
fails the attempt. Progress is heartbeated after each op, so the retry
resumes at the op that failed (with a flaky API a batch does not need all
its calls to succeed in one attempt); an op repeated anyway (its heartbeat
lost) is safe: messages look for their own key first (attempt > 1), labels
and custom attributes merge, assignment and status set a value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.chatwoot import ChatwootActivities
from models.batch import BatchResult, ChatwootBatchInput, ChatwootOp, OpOutcome


class ChatwootBatchActivities:
    def __init__(self, chatwoot: ChatwootActivities) -> None:
        self.chatwoot = chatwoot

    async def _apply(self, op: ChatwootOp) -> None:
        c = self.chatwoot
        # Each takes the input its op carries in the field named by `op.kind`.
        calls: dict[str, Callable[[Any], Awaitable[object]]] = {
            "message": c.send_message,
            "labels": c.update_labels,
            "assign": c.assign,
            "status": c.set_status,
            "attributes": c.merge_custom_attributes,
        }
        inp = getattr(op, op.kind)
        if inp is None:
            raise ApplicationError(
                f"chatwoot op {op.kind!r} without its input",
                type="ChatwootBadInput",
                non_retryable=True,
            )
        await calls[op.kind](inp)

    @activity.defn(name="chatwoot.apply_batch")
    async def apply_batch(self, inp: ChatwootBatchInput) -> BatchResult:
        details = activity.info().heartbeat_details
        outcomes = [OpOutcome.model_validate(o) for o in details[0]] if details else []
        for op in inp.ops[len(outcomes) :]:
            try:
                await self._apply(op)
                outcomes.append(OpOutcome())
            except ApplicationError as exc:
                if not exc.non_retryable:
                    raise  # the attempt fails; the retry resumes here
                outcomes.append(OpOutcome(ok=False, error=exc.message))
            activity.heartbeat([o.model_dump() for o in outcomes])
        return BatchResult(outcomes=outcomes)
