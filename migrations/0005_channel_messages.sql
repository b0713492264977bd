-- What ticketflow has sent to Slack and by e-mail, by the action's key, so
-- that each goes out once however often its activity is retried:
-- a Slack post's channel and ts (the message later edited in place by
-- chat.update, activities/slack.py), an e-mail's Message-ID
-- (activities/email.py). Written after the send succeeds; `ON CONFLICT DO
-- NOTHING` keeps the first.
CREATE TABLE IF NOT EXISTS channel_messages (
    action_key  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('slack', 'email')),
    channel     TEXT,
    ts          TEXT,
    message_id  TEXT,
    sent_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
