"""Lineage from the feature store to tracking: a training set built with Galley's Python client
(``galley.features.get_historical_features``) is logged as an input of a run with the real
``mlflow`` client, and the run shows which features, from which request, it was trained on."""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests

from conftest import unique

# The client package is tested from the source tree, whatever is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
from galley import features as galley_features  # noqa: E402

pytestmark = pytest.mark.galley_only

FEATURES = ["driver_hourly:conv_rate", "driver_hourly:trips"]


def _apply_definitions(uri: str, source: Path) -> None:
    definitions = f"""
entities:
  - {{name: driver, join_keys: [driver_id]}}
sources:
  - {{name: driver_stats, path: {source}, timestamp_field: event_timestamp, created_timestamp_column: created}}
feature_views:
  - name: driver_hourly
    entities: [driver]
    source: driver_stats
    ttl: 1d
    online: true
    schema: [{{name: conv_rate, dtype: float64}}, {{name: trips, dtype: int64}}]
"""
    response = requests.post(f"{uri}/api/v1/features/apply", params={"force": "true"},
                             data=definitions.encode(), timeout=30)
    assert response.status_code == 200, response.text


def test_training_set_is_logged_as_a_run_input(tracking_uri, experiment_id, tmp_path):
    t = pd.Timestamp("2026-01-01T00:00:00Z")
    hour = pd.Timedelta(hours=1)
    source = tmp_path / "driver_stats.parquet"
    pd.DataFrame({
        "driver_id": [1, 1, 2],
        "event_timestamp": [t, t + 2 * hour, t],
        "created": [t, t + 2 * hour, t],
        "conv_rate": [0.1, 0.3, 0.7],
        "trips": [10, 30, 70],
    }).to_parquet(source)
    _apply_definitions(tracking_uri, source)

    entity_df = pd.DataFrame({
        "driver_id": [1, 1, 2, 3],
        "event_timestamp": [t + hour, t + 3 * hour, t + 2 * hour, t + hour],
    })
    training = galley_features.get_historical_features(entity_df, features=FEATURES, url=tracking_uri)
    # Hand-computed as of each row: driver 1 at +1h sees the first row, at +3h the second;
    # driver 2 its only row; driver 3 nothing.
    assert training["driver_id"].tolist() == [1, 1, 2, 3]
    assert training["conv_rate"].tolist()[:3] == [0.1, 0.3, 0.7]
    assert pd.isna(training["conv_rate"].iloc[3])
    assert training["trips"].tolist()[:3] == [10, 30, 70]

    # The request that built the training set is the dataset's source: anyone reading the run
    # can ask Galley for the same features again.
    query = urllib.parse.urlencode({"features": ",".join(FEATURES)})
    request_url = f"{tracking_uri}/api/v1/features/historical?{query}"
    dataset = mlflow.data.from_pandas(training, source=request_url, name=unique("drivers"))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_input(dataset, context="training", tags={"galley.features": ",".join(FEATURES)})

    inputs = mlflow.MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    logged = inputs[0]
    assert logged.dataset.name == dataset.name
    assert logged.dataset.digest == dataset.digest
    assert logged.dataset.source_type == "http"
    assert request_url in logged.dataset.source
    assert {"conv_rate", "trips", "driver_id"} <= _schema_columns(logged.dataset.schema)
    tags = {tag.key: tag.value for tag in logged.tags}
    assert tags["mlflow.data.context"] == "training"
    assert tags["galley.features"] == ",".join(FEATURES)

    assert mlflow.data.get_source(logged).url == request_url


def _schema_columns(schema_json: str) -> set[str]:
    return {column["name"] for column in json.loads(schema_json)["mlflow_colspec"]}
