-- Feature store: the applied definitions, one row per version, and each finished
-- materialization of a feature view (its window, rows written and statistics as JSON).
CREATE TABLE feature_definitions (
    version BIGINT PRIMARY KEY,
    document TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);

CREATE TABLE feature_materializations (
    view_name TEXT NOT NULL,
    end_ns BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX feature_materializations_by_view ON feature_materializations (view_name, end_ns, finished_at);
