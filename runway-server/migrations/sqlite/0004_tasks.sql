-- The task queue: a task's row holds its operation's checked input, so that any
-- replica can run it. A worker claims a row (status `running`, its name, one
-- more attempt, a lease in database time) and renews the lease as it runs; a row
-- whose lease lapsed is claimed again while attempts remain. `output_id` is the
-- media id every attempt stores its output under, so a re-run replaces, never
-- adds. Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    operation TEXT NOT NULL,
    input TEXT NOT NULL,
    status TEXT NOT NULL,
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    created_ms BIGINT NOT NULL,
    started_ms BIGINT,
    finished_ms BIGINT,
    worker TEXT,
    lease_until_ms BIGINT,
    output_id TEXT NOT NULL,
    output_url TEXT,
    error_code TEXT,
    error_message TEXT,
    error_param TEXT
);

CREATE INDEX tasks_by_owner ON tasks (owner, id);
CREATE INDEX tasks_unfinished ON tasks (created_ms, id) WHERE finished_ms IS NULL;
CREATE INDEX tasks_finished ON tasks (finished_ms) WHERE finished_ms IS NOT NULL;
