-- Serving deployments: a registered model version served under a name, with batching, scaling and
-- traffic settings. No foreign key to model_versions: a deployment keeps serving the version it
-- loaded even if the registry entry is deleted, and says so when it next reloads.
CREATE TABLE deployments (
    name TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    -- 'version' or 'alias', and the number or alias name the user gave.
    selector_kind TEXT NOT NULL,
    selector_value TEXT NOT NULL,
    version BIGINT NOT NULL,
    previous_version BIGINT,
    max_batch_size BIGINT NOT NULL,
    max_batch_delay_ms BIGINT NOT NULL,
    max_queue BIGINT NOT NULL,
    min_replicas BIGINT NOT NULL,
    max_replicas BIGINT NOT NULL,
    canary_version BIGINT,
    canary_percent BIGINT,
    shadow_version BIGINT,
    shadow_percent BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
