-- Audit tables the SOPs ask for. Every table has an idempotency_key (the
-- ticket workflow's action key): an activity retry never writes twice.

-- The VIP concierge SOP's DDL, as written, plus the idempotency key.
CREATE TABLE IF NOT EXISTS vip_concierge_action (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    chatwoot_conv_id INT,
    customer_id UUID NOT NULL,
    action_type TEXT NOT NULL, -- 'credit','refund','replacement','gift','expedite','apology','escalate','founder_pull','retention_save'
    amount NUMERIC, -- if applicable
    by_agent TEXT NOT NULL,
    reason TEXT,
    authority_within_limit BOOLEAN, -- true if within Alicia's authority
    at_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    notes TEXT,
    idempotency_key TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS idx_vip_action_customer ON vip_concierge_action(customer_id);
CREATE INDEX IF NOT EXISTS idx_vip_action_at_time ON vip_concierge_action(at_time DESC);

-- One row per escalation (the §17.4 §6.2 table the VIP SOP refers to; its
-- columns are not given, so these are ticketflow's).
CREATE TABLE IF NOT EXISTS support_escalations (
    id BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    workflow_id TEXT NOT NULL,
    policy TEXT NOT NULL,
    chatwoot_conv_id INT NOT NULL,
    customer_id UUID,
    vip BOOLEAN NOT NULL DEFAULT false,
    from_agent TEXT,
    to_target TEXT NOT NULL,
    handoff TEXT,
    reason TEXT,
    payload JSONB NOT NULL DEFAULT '{}'::jsonb,
    notes TEXT,
    at_time TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_support_escalations_at ON support_escalations(policy, at_time);

-- Founder pulls: requested, decided, or timed out to Lola.
CREATE TABLE IF NOT EXISTS founder_pull_audit (
    id BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    workflow_id TEXT NOT NULL,
    chatwoot_conv_id INT NOT NULL,
    customer_id UUID,
    outcome TEXT NOT NULL CHECK (outcome IN ('requested', 'decided', 'timed_out')),
    why_founder TEXT,
    lola_recommendation TEXT,
    decision TEXT,
    founder_action TEXT,
    by_agent TEXT,
    notes TEXT,
    at_time TIMESTAMPTZ NOT NULL
);

-- vip:true flag changes (set, removed, by whom, why).
CREATE TABLE IF NOT EXISTS vip_flag_change_audit (
    id BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    workflow_id TEXT NOT NULL,
    chatwoot_conv_id INT NOT NULL,
    customer_id UUID,
    vip BOOLEAN NOT NULL,
    by_agent TEXT NOT NULL,
    why TEXT,
    at_time TIMESTAMPTZ NOT NULL
);

-- Decision log (ops-ladder SOP's evidence requirement): one row per escalation.
CREATE TABLE IF NOT EXISTS decision_log (
    id BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    workflow_id TEXT NOT NULL,
    policy TEXT NOT NULL,
    chatwoot_conv_id INT NOT NULL,
    severity TEXT,
    level INT NOT NULL,
    actions_taken TEXT,
    next_action TEXT,
    opened_at TIMESTAMPTZ,
    at_time TIMESTAMPTZ NOT NULL
);
