"""Run lifecycle, logging and value round-trips through MlflowClient."""

from __future__ import annotations

import math
import sys
import time

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException


def test_create_run_without_name_gets_one(client, experiment_id):
    run = client.create_run(experiment_id)
    info = run.info
    assert info.run_id and len(info.run_id) == 32
    assert info.run_name, "server must generate a run name"
    assert run.data.tags["mlflow.runName"] == info.run_name
    assert info.experiment_id == experiment_id
    assert info.status == "RUNNING"
    assert info.lifecycle_stage == "active"
    assert info.start_time > 0 and info.end_time is None
    assert info.artifact_uri.endswith(f"/{info.run_id}/artifacts")

    fetched = client.get_run(info.run_id)
    assert fetched.info.run_name == info.run_name
    assert fetched.data.tags["mlflow.runName"] == info.run_name


def test_create_run_with_name_tags_start_time(client, experiment_id, uniq):
    name = uniq("named")
    start = int(time.time() * 1000) - 60_000
    run = client.create_run(experiment_id, start_time=start, tags={"a": "1"}, run_name=name)
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == name
    assert got.data.tags["mlflow.runName"] == name
    assert got.data.tags["a"] == "1"
    assert got.info.start_time == start


def test_run_name_from_tag_only(client, experiment_id, uniq):
    # Old clients only send the mlflow.runName tag; the server fills run_name from it.
    name = uniq("tagname")
    run = client.create_run(experiment_id, tags={"mlflow.runName": name})
    assert client.get_run(run.info.run_id).info.run_name == name


def test_update_status_end_time_and_name(client, experiment_id, uniq):
    run_id = client.create_run(experiment_id).info.run_id
    end = int(time.time() * 1000) + 5
    client.set_terminated(run_id, status="FAILED", end_time=end)
    info = client.get_run(run_id).info
    assert info.status == "FAILED"
    assert info.end_time == end

    new_name = uniq("renamed")
    client.update_run(run_id, name=new_name)
    run = client.get_run(run_id)
    assert run.info.run_name == new_name
    assert run.data.tags["mlflow.runName"] == new_name
    assert run.info.status == "FAILED"  # untouched

    client.update_run(run_id, status="KILLED")
    assert client.get_run(run_id).info.status == "KILLED"


def test_fluent_run_finishes(uniq, experiment_id):
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("m", 1.0)
    info = mlflow.get_run(run.info.run_id).info
    assert info.status == "FINISHED"
    assert info.end_time is not None and info.end_time >= info.start_time

    with pytest.raises(ValueError):
        with mlflow.start_run(experiment_id=experiment_id) as failing:
            raise ValueError("boom")
    assert mlflow.get_run(failing.info.run_id).info.status == "FAILED"


def test_delete_restore(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_log_batch(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    ts = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric("m", float(i), ts + i, i) for i in range(10)] + [Metric("other", 3.5, ts, 0)],
        params=[Param("p1", "a"), Param("p2", "b")],
        tags=[RunTag("t1", "x"), RunTag("t2", "y")],
    )
    run = client.get_run(run_id)
    assert run.data.metrics == {"m": 9.0, "other": 3.5}
    assert run.data.params == {"p1": "a", "p2": "b"}
    assert run.data.tags["t1"] == "x" and run.data.tags["t2"] == "y"
    hist = client.get_metric_history(run_id, "m")
    assert [(m.step, m.value, m.timestamp) for m in hist] == [(i, float(i), ts + i) for i in range(10)]

    # Logging the same param with the same value again is fine; tags can change.
    client.log_batch(run_id, params=[Param("p1", "a")], tags=[RunTag("t1", "z")])
    run = client.get_run(run_id)
    assert run.data.params["p1"] == "a" and run.data.tags["t1"] == "z"

    # An empty batch is accepted.
    client.log_batch(run_id)


def test_latest_metric_is_highest_step(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    ts = int(time.time() * 1000)
    client.log_metric(run_id, "m", 5.0, timestamp=ts, step=10)
    client.log_metric(run_id, "m", 1.0, timestamp=ts + 1000, step=2)  # later, but lower step
    assert client.get_run(run_id).data.metrics["m"] == 5.0
    # same step: later timestamp wins
    client.log_metric(run_id, "m", 7.0, timestamp=ts + 2000, step=10)
    assert client.get_run(run_id).data.metrics["m"] == 7.0
    hist = client.get_metric_history(run_id, "m")
    assert sorted((m.step, m.timestamp, m.value) for m in hist) == [
        (2, ts + 1000, 1.0),
        (10, ts, 5.0),
        (10, ts + 2000, 7.0),
    ]


def test_identical_metric_entries_are_deduplicated(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=1000, step=0)
    client.log_metric(run_id, "m", 1.0, timestamp=1000, step=0)
    client.log_batch(run_id, metrics=[Metric("m", 1.0, 1000, 0), Metric("m", 1.0, 1000, 0)])
    assert len(client.get_metric_history(run_id, "m")) == 1
    # Same step and timestamp, different value: both kept; the larger value is "latest".
    client.log_metric(run_id, "m", 2.0, timestamp=1000, step=0)
    client.log_metric(run_id, "m", 0.5, timestamp=1000, step=0)
    assert sorted(m.value for m in client.get_metric_history(run_id, "m")) == [0.5, 1.0, 2.0]
    assert client.get_run(run_id).data.metrics["m"] == 2.0


def test_delete_tag(client, experiment_id):
    run_id = client.create_run(experiment_id, tags={"keep": "1", "drop": "2"}).info.run_id
    client.delete_tag(run_id, "drop")
    tags = client.get_run(run_id).data.tags
    assert "drop" not in tags and tags["keep"] == "1"
    with pytest.raises(MlflowException) as e:
        client.delete_tag(run_id, "drop")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def _log_special_values(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    ts = int(time.time() * 1000)
    client.log_metric(run_id, "nan", float("nan"), timestamp=ts, step=0)
    client.log_metric(run_id, "pinf", float("inf"), timestamp=ts, step=0)
    client.log_metric(run_id, "ninf", float("-inf"), timestamp=ts, step=0)
    client.log_batch(run_id, metrics=[Metric("batch_nan", float("nan"), ts, 1), Metric("big", 1.5e300, ts, 0)])
    return run_id


def test_nan_and_inf_round_trip(client, experiment_id):
    # On the wire the client sends "NaN" / "Infinity" / "-Infinity" as JSON strings.
    run_id = _log_special_values(client, experiment_id)
    m = client.get_run(run_id).data.metrics
    assert math.isnan(m["nan"]) and math.isnan(m["batch_nan"])
    assert m["big"] == 1.5e300
    assert math.isnan(client.get_metric_history(run_id, "nan")[0].value)
    # MLflow's SQL store clamps +-inf to +-sys.float_info.max (1.7976931348623157e308);
    # Galley keeps the infinity (see the galley_only test below). Accept both here.
    assert m["pinf"] in (math.inf, sys.float_info.max)
    assert m["ninf"] in (-math.inf, -sys.float_info.max)
    assert client.get_metric_history(run_id, "pinf")[0].value in (math.inf, sys.float_info.max)
    assert client.get_metric_history(run_id, "ninf")[0].value in (-math.inf, -sys.float_info.max)


@pytest.mark.galley_only
def test_inf_round_trips_exactly(client, experiment_id):
    # Real MLflow (SQL store) returns +-1.7976931348623157e308 instead of +-inf.
    run_id = _log_special_values(client, experiment_id)
    m = client.get_run(run_id).data.metrics
    assert m["pinf"] == math.inf
    assert m["ninf"] == -math.inf
    assert client.get_metric_history(run_id, "pinf")[0].value == math.inf
    assert client.get_metric_history(run_id, "ninf")[0].value == -math.inf


def test_values_round_trip_exactly(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    weird = "ünïcödé ✓ 'quotes' \"dq\" \\ back\nnewline"
    long_param = "p" * 6000  # MLflow allows params up to 6000 chars
    client.log_param(run_id, "weird", weird)
    client.log_param(run_id, "long", long_param)
    client.set_tag(run_id, "weird", weird)
    client.log_metric(run_id, "precise", 0.1 + 0.2)
    client.log_metric(run_id, "negative", -123456.789)
    client.log_metric(run_id, "int_like", 42)
    run = client.get_run(run_id)
    assert run.data.params["weird"] == weird
    assert run.data.params["long"] == long_param
    assert run.data.tags["weird"] == weird
    assert run.data.metrics["precise"] == 0.1 + 0.2
    assert run.data.metrics["negative"] == -123456.789
    assert run.data.metrics["int_like"] == 42.0


def test_status_constants(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    for status in ("SCHEDULED", "FINISHED", "RUNNING"):
        client.update_run(run_id, status=status)
        assert client.get_run(run_id).info.status == status
    assert RunStatus.to_string(RunStatus.FINISHED) == "FINISHED"


def test_get_metric_history_pagination_many_steps(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    ts = int(time.time() * 1000)
    n = 2500
    for start in range(0, n, 1000):
        client.log_batch(run_id, metrics=[Metric("curve", i * 0.5, ts, i) for i in range(start, min(n, start + 1000))])
    hist = client.get_metric_history(run_id, "curve")
    assert len(hist) == n
    assert sorted(m.step for m in hist) == list(range(n))
