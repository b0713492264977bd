"""The Slack activities against the Slack stand-in (which refuses what the
Web API refuses and checks every call against Slack's published spec):
one message per action key, even when a post is retried after its answer
was lost; updates edit that message in place."""

from __future__ import annotations

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.slack import SlackActivities
from infra.settings import load_settings
from models.channels import SlackPostInput, SlackUpdateInput
from sandbox.slack import create_slack_app
from tests.helpers import AT, activity_env, channel_message

TOKEN = "xoxb-test-0000"


@pytest.fixture
async def slack(pg_pool):
    app = create_slack_app(TOKEN)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://slack"
    ) as http:
        settings = load_settings(
            _env_file=None, slack_api_url="http://slack/api", slack_bot_token=TOKEN
        )
        yield SlackActivities(http, settings, pg_pool), app
        assert app.state.violations == []  # every call as Slack's spec says


def post(key: str, to: str = "C0HOTDASH1") -> SlackPostInput:
    return SlackPostInput(message=channel_message(key), to=to, target="support_hotdash", at=AT)


async def test_a_retry_after_a_lost_answer_posts_nothing_new(slack, pg_pool):
    acts, app = slack
    first = await activity_env(1).run(acts.post, post("ticket-1-7:r1"))
    # The answer was lost: nothing kept in Postgres, the message is in the channel.
    await pg_pool.execute("DELETE FROM channel_messages WHERE action_key = 'ticket-1-7:r1'")
    again = await activity_env(2).run(acts.post, post("ticket-1-7:r1"))
    assert again.deduplicated and again.ts == first.ts
    # And once kept, a retry does not even look.
    calls = len(app.state.recorder.calls)
    third = await activity_env(3).run(acts.post, post("ticket-1-7:r1"))
    assert third.deduplicated and len(app.state.recorder.calls) == calls
    assert len(app.state.channels["C0HOTDASH1"]) == 1
    methods = [c["path"] for c in app.state.recorder.calls]
    assert methods.count("/api/chat.postMessage") == 1


async def test_an_update_edits_the_post_in_place(slack):
    acts, app = slack
    ref = await activity_env().run(acts.post, post("ticket-1-7:r2"))
    msg = channel_message("ticket-1-7:r2").model_copy(
        update={"status": "Acknowledged by Lola at 03:14", "buttons": True}
    )
    upd = SlackUpdateInput(
        message=msg, to="C0HOTDASH1", posted_at=AT, update_key="ticket-1-7:9", at=AT
    )
    out = await activity_env().run(acts.update, upd)
    assert out.ts == ref.ts
    [only] = [m for m in app.state.channels["C0HOTDASH1"] if m["ts"] == ref.ts]
    assert "Acknowledged by Lola at 03:14" in str(only["blocks"]) and only.get("edited")
    assert len(app.state.channels["C0HOTDASH1"]) == 1


async def test_a_dm_goes_to_the_persons_im_channel(slack):
    acts, app = slack
    ref = await activity_env().run(acts.post, post("ticket-1-7:r3", to="U0ONCALL01"))
    assert ref.channel.startswith("D") and app.state.channels[ref.channel]


async def test_what_slack_refuses_is_final_and_never_shows_the_token(slack):
    acts, _app = slack
    with pytest.raises(ApplicationError) as err:
        await activity_env().run(
            acts.post, post("k-bad", to="C0HOTDASH1").model_copy(update={"to": "G0"})
        )
    assert err.value.non_retryable and TOKEN not in str(err.value)
    wrong = SlackActivities(
        acts.http,
        load_settings(_env_file=None, slack_api_url="http://slack/api", slack_bot_token="xoxb-no"),
        acts.pool,
    )
    with pytest.raises(ApplicationError) as err:
        await activity_env().run(wrong.post, post("k-auth"))
    assert err.value.type == "SlackRejected" and "invalid_auth" in str(err.value)
    assert "xoxb-no" not in str(err.value)
