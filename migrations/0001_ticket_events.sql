-- Every action a ticket workflow takes, in order: the audit trail behind
-- `ticketflow show`, `ticketflow report` and the SOPs' evidence rules.
-- `idempotency_key` is derived from the workflow id and the action's
-- sequence number, so an activity retry never writes a second row.
CREATE TABLE IF NOT EXISTS ticket_events (
    id              BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    workflow_id     TEXT NOT NULL,
    account_id      INT NOT NULL,
    conversation_id INT NOT NULL,
    policy          TEXT NOT NULL,
    action          TEXT NOT NULL,
    target          TEXT,
    details         JSONB NOT NULL DEFAULT '{}'::jsonb,
    at_time         TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_ticket_events_workflow ON ticket_events (workflow_id, at_time);
CREATE INDEX IF NOT EXISTS idx_ticket_events_policy_action ON ticket_events (policy, action, at_time);
