-- Searches ordered by a metric walk this index in order (numbers, then NaN) and stop once a page
-- is full; with is_nan in the key and run_uuid included the walk is index-only.
DROP INDEX latest_metrics_by_key;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, is_nan, value) INCLUDE (run_uuid);
