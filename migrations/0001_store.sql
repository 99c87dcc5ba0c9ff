-- Feedback and decision audit store (issue 6). One schema for SQLite and PostgreSQL: only TEXT
-- and BIGINT columns, times as Unix milliseconds (UTC), lists as JSON text.

-- One row per hook call: what was asked, what was found, where the data came from.
CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    recorded_at BIGINT NOT NULL,
    hook_instance TEXT NOT NULL,
    service TEXT NOT NULL,
    hook TEXT NOT NULL,
    patient_id TEXT,
    status BIGINT NOT NULL,
    profile TEXT NOT NULL,
    draft_orders TEXT NOT NULL,
    findings TEXT NOT NULL,
    from_prefetch TEXT NOT NULL,
    from_fhir TEXT NOT NULL,
    gaps TEXT NOT NULL,
    latency_us BIGINT NOT NULL
);
CREATE INDEX decisions_recorded_at ON decisions (recorded_at);
CREATE INDEX decisions_hook_instance ON decisions (hook_instance);

-- One row per card issued, so feedback can be checked against what was offered.
CREATE TABLE decision_cards (
    card_uuid TEXT PRIMARY KEY,
    decision_id TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    hook_instance TEXT NOT NULL,
    service TEXT NOT NULL,
    topic TEXT NOT NULL,
    indicator TEXT NOT NULL,
    order_ref TEXT,
    suggestion_uuids TEXT NOT NULL,
    override_reasons TEXT NOT NULL
);
CREATE INDEX decision_cards_recorded_at ON decision_cards (recorded_at);
CREATE INDEX decision_cards_decision_id ON decision_cards (decision_id);

-- CDS Hooks 2.0 feedback, one row per feedback[] item, flagged when it does not match a card.
CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    service TEXT NOT NULL,
    card_uuid TEXT NOT NULL,
    outcome TEXT NOT NULL,
    accepted_suggestions TEXT NOT NULL,
    reason_system TEXT,
    reason_code TEXT,
    reason_display TEXT,
    user_comment TEXT,
    outcome_timestamp TEXT NOT NULL,
    flags TEXT NOT NULL
);
CREATE INDEX feedback_received_at ON feedback (received_at);
CREATE INDEX feedback_card_uuid ON feedback (card_uuid);

-- JWT `jti`s seen, so that replicas sharing the store reject each other's replays.
CREATE TABLE jti_seen (
    iss TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (iss, jti)
);
CREATE INDEX jti_seen_expires_at ON jti_seen (expires_at);

-- Readiness writes here: a store that cannot be written is not ready.
CREATE TABLE store_probe (
    instance TEXT PRIMARY KEY,
    checked_at BIGINT NOT NULL
);
