-- Accounts own media, tasks and quotas; each has any number of API keys, kept as
-- SHA-256 digests. Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    label TEXT,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    last_used_ms BIGINT,
    revoked_ms BIGINT
);

CREATE INDEX api_keys_by_account ON api_keys (account_id, created_ms);
