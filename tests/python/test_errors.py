"""Bad input: error codes through the client, status codes and bodies over raw REST."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException, RestException


def _err(resp):
    """The JSON error body every error response must have."""
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body.get("error_code"), str) and body["error_code"]
    assert isinstance(body.get("message"), str)
    return body


def test_unknown_run(client, api):
    missing = uuid.uuid4().hex
    with pytest.raises(MlflowException) as e:
        client.get_run(missing)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert isinstance(e.value, RestException)

    with pytest.raises(MlflowException) as e:
        client.log_metric(missing, "m", 1.0)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    r = api.get("runs/get", {"run_id": missing})
    assert r.status_code == 404
    assert _err(r)["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_unknown_experiment(client, api):
    with pytest.raises(MlflowException) as e:
        client.get_experiment("987654321")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    r = api.get("experiments/get", {"experiment_id": "987654321"})
    assert r.status_code == 404
    assert _err(r)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = api.get("experiments/get-by-name", {"experiment_name": f"nope-{uuid.uuid4().hex}"})
    assert r.status_code == 404
    assert _err(r)["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    with pytest.raises(MlflowException) as e:
        client.create_run("987654321")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_duplicate_experiment(client, api, uniq):
    name = uniq("dup")
    client.create_experiment(name)
    with pytest.raises(MlflowException) as e:
        client.create_experiment(name)
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"

    r = api.post("experiments/create", {"name": name})
    assert r.status_code == 400
    assert _err(r)["error_code"] == "RESOURCE_ALREADY_EXISTS"


def test_rename_to_existing_name(client, uniq):
    a, b = uniq("ra"), uniq("rb")
    client.create_experiment(a)
    b_id = client.create_experiment(b)
    with pytest.raises(MlflowException):
        client.rename_experiment(b_id, a)
    assert client.get_experiment(b_id).name == b


@pytest.mark.galley_only
def test_rename_to_existing_name_error_code(client, uniq):
    # MLflow 3.17 answers BAD_REQUEST carrying the raw sqlite IntegrityError text;
    # Galley must answer like create does.
    a, b = uniq("ra"), uniq("rb")
    client.create_experiment(a)
    b_id = client.create_experiment(b)
    with pytest.raises(MlflowException) as e:
        client.rename_experiment(b_id, a)
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_missing_required_field(api):
    r = api.post("experiments/create", {})
    assert r.status_code == 400
    assert _err(r)["error_code"] == "INVALID_PARAMETER_VALUE"
    r = api.get("runs/get", {})
    assert r.status_code == 400
    assert _err(r)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_changing_param_value(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", "0.1")
    client.log_param(run_id, "lr", "0.1")  # same value: fine
    with pytest.raises(MlflowException) as e:
        client.log_param(run_id, "lr", "0.2")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as e:
        client.log_batch(run_id, params=[Param("lr", "0.3")])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).data.params["lr"] == "0.1"


def test_log_batch_too_many_metrics_writes_nothing(client, experiment_id, api):
    # MlflowClient.log_batch splits big batches into chunks of <= 1000 metrics /
    # 100 params / 100 tags before sending, so the limit is checked over raw REST.
    run_id = client.create_run(experiment_id).info.run_id
    ts = int(time.time() * 1000)
    body = {
        "run_id": run_id,
        "metrics": [{"key": f"m{i}", "value": float(i), "timestamp": ts, "step": 0} for i in range(1001)],
        "params": [{"key": "p", "value": "1"}],
        "tags": [{"key": "t", "value": "1"}],
    }
    r = api.post("runs/log-batch", body)
    assert r.status_code == 400
    assert _err(r)["error_code"] == "INVALID_PARAMETER_VALUE"
    run = client.get_run(run_id)
    assert run.data.metrics == {}
    assert run.data.params == {}
    assert "t" not in run.data.tags
    assert client.get_metric_history(run_id, "m0") == []

    # The limit is on metrics + params + tags together (1000): 950 + 50 + 1 is too many.
    combo = {
        "run_id": run_id,
        "metrics": body["metrics"][:950],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(50)],
        "tags": [{"key": "t", "value": "1"}],
    }
    r = api.post("runs/log-batch", combo)
    assert r.status_code == 400
    assert _err(r)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).data.metrics == {}

    # exactly 1000 in total is allowed
    body["metrics"] = body["metrics"][:998]
    r = api.post("runs/log-batch", body)
    assert r.status_code == 200, r.text
    run = client.get_run(run_id)
    assert len(run.data.metrics) == 998
    assert run.data.params == {"p": "1"}
    assert run.data.tags["t"] == "1"

    # the client chunks 1001 metrics into two requests, both accepted
    client.log_batch(run_id, metrics=[Metric(f"c{i}", 1.0, ts, 0) for i in range(1001)])
    assert len(client.get_run(run_id).data.metrics) == 998 + 1001


def test_log_batch_too_many_params_or_tags(client, experiment_id, api):
    run_id = client.create_run(experiment_id).info.run_id
    r = api.post("runs/log-batch", {"run_id": run_id, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]})
    assert r.status_code == 400
    assert _err(r)["error_code"] == "INVALID_PARAMETER_VALUE"
    r = api.post("runs/log-batch", {"run_id": run_id, "tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]})
    assert r.status_code == 400
    assert _err(r)["error_code"] == "INVALID_PARAMETER_VALUE"
    run = client.get_run(run_id)
    assert run.data.params == {}
    assert not any(k.startswith("t") for k in run.data.tags)


@pytest.mark.parametrize(
    "flt",
    [
        "metrics.acc >> 1",
        "foo = 'x' OR bar = 'y'",
        "metrics.acc > 0.5 OR params.C = '1.0'",
        "params.C = 1.0",  # params compare to strings
        "metrics.acc = 'abc'",  # metrics compare to numbers
        "nosuchentity.x = 'y'",
        "attributes.nosuchattr = 'y'",
        "metrics.acc >",
    ],
)
def test_bad_filter(client, experiment_id, api, flt):
    with pytest.raises(MlflowException) as e:
        client.search_runs([experiment_id], filter_string=flt)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    r = api.post("runs/search", {"experiment_ids": [experiment_id], "filter": flt})
    assert r.status_code == 400
    assert _err(r)["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("order", ["metrics.acc SIDEWAYS", "nosuchentity.x DESC", "metrics.acc DESC extra"])
def test_bad_order_by(client, experiment_id, order):
    with pytest.raises(MlflowException) as e:
        client.search_runs([experiment_id], order_by=[order])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_bad_experiment_filter(client):
    with pytest.raises(MlflowException) as e:
        client.search_experiments(filter_string="name LIKE 'a%' OR name LIKE 'b%'")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_bad_page_token(client, experiment_id, api):
    r = api.post("runs/search", {"experiment_ids": [experiment_id], "page_token": "not-a-token!!"})
    assert r.status_code == 400
    assert _err(r)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_max_results_too_large(api, experiment_id):
    r = api.post("runs/search", {"experiment_ids": [experiment_id], "max_results": 50001})
    assert r.status_code == 400
    assert _err(r)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_malformed_json_body(api):
    r = requests.post(
        api.url("/api/2.0/mlflow/experiments/create"),
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 400
    _err(r)

    r = requests.post(
        api.url("/api/2.0/mlflow/runs/log-metric"),
        data=b'{"run_id": ',
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 400
    _err(r)


def test_wrong_field_type(api):
    r = api.post("experiments/create", {"name": ["not", "a", "string"]})
    assert r.status_code == 400
    assert _err(r)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_logging_to_deleted_or_finished_run(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    with pytest.raises(MlflowException) as e:
        client.log_metric(run_id, "m", 1.0)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    client.restore_run(run_id)
    client.set_terminated(run_id)
    # a finished but active run can still be logged to
    client.log_metric(run_id, "m", 1.0)
    assert client.get_run(run_id).data.metrics["m"] == 1.0


def test_create_run_in_deleted_experiment(client, uniq):
    exp_id = client.create_experiment(uniq("gone"))
    client.delete_experiment(exp_id)
    with pytest.raises(MlflowException) as e:
        client.create_run(exp_id)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_unknown_endpoint(api):
    r = api.get("no/such/endpoint")
    assert r.status_code == 404


def test_invalid_metric_and_param_names(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    for bad in ("../escape", "/abs", ""):
        with pytest.raises(MlflowException) as e:
            client.log_batch(run_id, metrics=[Metric(bad, 1.0, 0, 0)])
        assert e.value.error_code == "INVALID_PARAMETER_VALUE"
