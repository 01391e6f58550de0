-- Idempotency keys: one row per caller and key (its SHA-256). The first request
-- claims the row (with a token of its own), runs, and keeps its answer there; a
-- repeat replays it. Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE idempotency_keys (
    owner TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    claim TEXT NOT NULL,
    answer_status INTEGER,
    answer_content_type TEXT,
    answer_location TEXT,
    answer_body TEXT,
    PRIMARY KEY (owner, key_hash)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_ms);
