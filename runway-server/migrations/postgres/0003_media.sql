-- Every stored media, by owner and age: listings read a page by the index, usage
-- reads one row of counters kept in the same transaction as the media rows, and
-- retention reads only what is past its time. `record` is the media's record as
-- the object store keeps it (JSON), so a page needs no other read.
CREATE TABLE media (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    record TEXT NOT NULL
);

CREATE INDEX media_by_owner ON media (owner, created_ms, id);
CREATE INDEX media_by_age ON media (created_ms);

CREATE TABLE usage (
    owner TEXT PRIMARY KEY,
    media_count BIGINT NOT NULL,
    used_bytes BIGINT NOT NULL
);
