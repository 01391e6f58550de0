-- What a server has done once for this database (imports from an older data
-- directory, for one), by name.
CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    done_ms BIGINT NOT NULL
);
