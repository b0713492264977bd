-- The content of every policy pack a worker loaded for a ticket, by name,
-- version and content hash, so a what-if run (`ticketflow whatif`,
-- dryrun/whatif.py) replays each recorded ticket against the pack it really
-- ran, even after the YAML file was edited or its version reused. Written
-- by the policy-loading activity (activities/policy.py) once per content
-- and worker process; `ON CONFLICT DO NOTHING` keeps the first sighting.
-- `policy_json` is the validated pack as the engine got it (its sha256 is
-- engine.shared_policy.content_key). Append-only in practice: nothing
-- updates or deletes a row.
CREATE TABLE IF NOT EXISTS pack_versions (
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    policy_json     TEXT NOT NULL,
    first_loaded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version, sha256)
);
