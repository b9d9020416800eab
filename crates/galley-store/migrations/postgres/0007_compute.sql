-- Compute layer: the applied queues configuration, one row per version, and jobs with their
-- events. A job is stored whole as a JSON document; the columns beside it are what lists filter
-- on and what a state change compares and sets.
CREATE TABLE compute_configs (
    version BIGINT PRIMARY KEY,
    document TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    team TEXT NOT NULL,
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    submitted_at BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX jobs_by_state ON jobs (state, submitted_at);
CREATE INDEX jobs_by_time ON jobs (submitted_at, id);

CREATE TABLE job_events (
    job_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
