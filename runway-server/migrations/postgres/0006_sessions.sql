-- Signing in to the cabinet: an account may have a password (an argon2 PHC
-- string), and a signed-in browser a session, kept as the SHA-256 of its token
-- (valid on every replica), with its own token against cross-site requests.
ALTER TABLE accounts ADD COLUMN password_hash TEXT;

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    csrf_token TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);

CREATE INDEX sessions_by_expiry ON sessions (expires_ms);
