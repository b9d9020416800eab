-- Monitoring: what share of a deployment's requests is logged, where the logged predictions are,
-- ground-truth labels, reference profiles and evaluation results.
ALTER TABLE deployments ADD COLUMN log_sample_rate DOUBLE PRECISION NOT NULL DEFAULT 1.0;

-- One row per Parquet file of logged predictions in the artifact store; a window's evaluation
-- reads only the files whose time range overlaps it.
CREATE TABLE prediction_files (
    deployment TEXT NOT NULL,
    path TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (deployment, path)
);
CREATE INDEX prediction_files_by_time ON prediction_files (deployment, last_at);

-- Ground truth, by the request id the prediction was answered with and the row within it. A label
-- sent again replaces the earlier one (a correction).
CREATE TABLE prediction_labels (
    deployment TEXT NOT NULL,
    request_id TEXT NOT NULL,
    row_index BIGINT NOT NULL,
    label TEXT NOT NULL,
    labeled_at BIGINT NOT NULL,
    PRIMARY KEY (deployment, request_id, row_index)
);

-- A model version's reference profile; the profile itself (which can be large) is a JSON
-- document in the artifact store at profile_path.
CREATE TABLE reference_profiles (
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    source TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    profile_path TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (model, version)
);

-- Evaluation results as time series: one value per deployment, window, metric and column ('' for
-- dataset-level metrics). Re-evaluating a window replaces its values.
CREATE TABLE monitoring_results (
    deployment TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    metric TEXT NOT NULL,
    column_name TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    evaluated_at BIGINT NOT NULL,
    PRIMARY KEY (deployment, metric, column_name, window_start, window_end)
);

-- Alert rules on evaluation results, and their firings: one per rule and evaluated window, with
-- the state of the webhook delivery.
CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY,
    deployment TEXT NOT NULL,
    name TEXT NOT NULL,
    metric TEXT NOT NULL,
    column_name TEXT,
    comparison TEXT NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    window_length TEXT NOT NULL,
    severity TEXT NOT NULL,
    webhook_url TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX alert_rules_by_deployment ON alert_rules (deployment, created_at);

CREATE TABLE alert_events (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    deployment TEXT NOT NULL,
    metric TEXT NOT NULL,
    column_name TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    severity TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    delivery TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    UNIQUE (rule_id, window_start, window_end)
);
CREATE INDEX alert_events_by_deployment ON alert_events (deployment, fired_at);
