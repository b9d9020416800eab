-- Model registry: registered models, numbered versions, their tags, and aliases.
-- Renames cascade through every child table (ON UPDATE CASCADE); deleting a version deletes the
-- aliases pointing at it.
CREATE TABLE registered_models (
    name TEXT PRIMARY KEY,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    description TEXT NOT NULL,
    -- Highest version number ever handed out, so numbers are never reused after a delete.
    last_version BIGINT NOT NULL
);

CREATE TABLE registered_model_tags (
    name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);

CREATE TABLE model_versions (
    name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
    version BIGINT NOT NULL,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    current_stage TEXT NOT NULL,
    description TEXT NOT NULL,
    source TEXT NOT NULL,
    storage_location TEXT NOT NULL,
    run_id TEXT,
    run_link TEXT,
    model_id TEXT,
    PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_by_run ON model_versions (run_id);

CREATE TABLE model_version_tags (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE registered_model_aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE ON UPDATE CASCADE
);
