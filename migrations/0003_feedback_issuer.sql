-- Which JWT issuer a feedback came with (issue 17 item 14; docs/history.md): with several EHRs
-- (issuers) calling one service, the committee can tell whose prescribers overrode what. NULL for
-- unsigned calls (local mode) and for rows stored before this migration.
ALTER TABLE feedback ADD COLUMN issuer TEXT;
