-- Every input a ticket's engine consumed, in order: the ticket it opened
-- with, each signal and update it applied (its typed payload, who sent it,
-- whether the engine refused it), each timer wake that had something due,
-- each activity answer fed back to the engine, with the exact instant the
-- workflow gave the engine and the pack (name and version) in force. Enough
-- to replay a ticket's life through the engine without Temporal; no message
-- bodies or secrets (the engine never sees them). Written by
-- `audit.record_inputs` (activities/audit.py) from workflows/inputs.py.
--
-- `seq` counts per workflow id and life (a conversation's ticket started
-- again after it closed numbers from 1 again), so an activity retry writes
-- nothing twice (inserts are ON CONFLICT DO NOTHING). Append-only: a trigger
-- refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE IF NOT EXISTS ticket_inputs (
    workflow_id    TEXT NOT NULL,
    life           TEXT NOT NULL DEFAULT '',
    seq            INT NOT NULL CHECK (seq >= 1),
    kind           TEXT NOT NULL,
    payload        JSONB NOT NULL DEFAULT '{}'::jsonb,
    at             TIMESTAMPTZ NOT NULL,
    source         TEXT,
    rejected       TEXT,
    policy         TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, life, seq)
);
-- A pack's tickets by time (what a what-if run over a pack reads).
CREATE INDEX IF NOT EXISTS idx_ticket_inputs_policy_at ON ticket_inputs (policy, at);

CREATE OR REPLACE FUNCTION ticket_inputs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ticket_inputs is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
DROP TRIGGER IF EXISTS ticket_inputs_no_change ON ticket_inputs;
CREATE TRIGGER ticket_inputs_no_change BEFORE UPDATE OR DELETE ON ticket_inputs
    FOR EACH ROW EXECUTE FUNCTION ticket_inputs_append_only();
DROP TRIGGER IF EXISTS ticket_inputs_no_truncate ON ticket_inputs;
CREATE TRIGGER ticket_inputs_no_truncate BEFORE TRUNCATE ON ticket_inputs
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_inputs_append_only();
