-- Alert rules may name a retraining job (the compute layer's job spec as JSON) to submit when
-- they fire; each firing records the job it submitted.
ALTER TABLE alert_rules ADD COLUMN retrain_job TEXT;
ALTER TABLE alert_events ADD COLUMN retrain_job_id TEXT;
