-- What inspection found in a version's files (JSON: format, path, inputs, outputs), and one
-- model card per version. Cards follow their version through renames and go with it on delete.
ALTER TABLE model_versions ADD COLUMN signature TEXT;

CREATE TABLE model_cards (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    intended_use TEXT NOT NULL,
    limitations TEXT NOT NULL,
    training_data TEXT NOT NULL,
    -- JSON list of owner names.
    owners TEXT NOT NULL,
    markdown TEXT NOT NULL,
    updated_timestamp BIGINT NOT NULL,
    PRIMARY KEY (name, version),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE ON UPDATE CASCADE
);
