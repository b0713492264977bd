"""What Chatwoot already knows of a conversation a ticket opens for.

A ticket the bridge starts for a conversation that is not new (the first
webhook ticketflow hears of it is a message hours after it began: go-live, a
lost `conversation_created`) reads the conversation and its messages here
before its engine opens, as reconciliation does for the tickets it starts
(models/adoption.py), so an answered conversation does not start breached
and no catch-up message goes to a customer of an old conversation.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from temporalio import activity

from activities.chatwoot import ChatwootActivities
from infra.settings import Settings
from models.adoption import Adoption
from models.chatwoot import AdoptionInput


class AdoptionActivities:
    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.chatwoot = ChatwootActivities(http, settings)
        self.settings = settings

    @activity.defn(name="chatwoot.read_adoption")
    async def read_adoption(self, inp: AdoptionInput) -> Adoption:
        """The conversation's replies, customer messages and status as the
        events they were (no message body kept). Raises ApplicationError when
        Chatwoot does not answer."""
        conv = await self.chatwoot._call(
            "GET", self.chatwoot._url(inp.account_id, inp.conversation_id)
        )
        return await conversation_adoption(
            self.chatwoot, conv, inp.account_id, inp.conversation_id, self.settings
        )


async def conversation_adoption(
    chatwoot: ChatwootActivities,
    conv: dict,
    account_id: int,
    number: int,
    settings: Settings,
) -> Adoption:
    """What Chatwoot knows of conversation `number` (`conv` as Chatwoot gave it),
    read now: its messages through the Application API, mapped as the bridge maps them."""
    from starter.chatwoot_history import adoption, read_messages

    messages = await read_messages(chatwoot, account_id, number)
    return adoption(conv, messages, account_id, settings.policy_for_inbox, datetime.now(UTC))
