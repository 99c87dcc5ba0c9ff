-- Feedback is idempotent (issue 17 item 7): an EHR retrying a feedback call (after a timeout, a
-- 503, a lost answer) must not count an override twice in the report. `dedup_key` is the
-- SHA-256 of what identifies an item (src/store/model.rs, `Feedback::dedup_key`). Rows stored
-- before this migration keep NULL, which a unique index does not compare (SQLite and PostgreSQL).
ALTER TABLE feedback ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX feedback_dedup_key ON feedback (dedup_key);
