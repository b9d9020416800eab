"""Monitoring through the real clients: a registered ONNX model is deployed, its training data
profiled as the version's reference (from a run artifact), traffic sent with ``tritonclient``,
labels posted by request id, and windows evaluated: reference-like traffic shows no drift and
the accuracy the labels give; shifted traffic shows drift, in the JSON and the HTML report, and
fires the drift alert, whose webhook arrives at a local receiver."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import tritonclient.http as triton
from sklearn.datasets import load_iris

from conftest import unique

pytestmark = pytest.mark.galley_only

FIXTURE = Path(__file__).resolve().parents[2] / "crates/galley-onnx/tests/fixtures/logistic_regression_iris.onnx"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def monitored(tracking_uri, tmp_path_factory):
    """The iris model logged with its training data, registered, deployed and profiled."""
    iris = load_iris()
    train = pd.DataFrame(iris.data, columns=FEATURES)
    train["species"] = iris.target
    folder = tmp_path_factory.mktemp("iris")
    train.to_csv(folder / "train.csv", index=False)
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(FIXTURE), artifact_path="model")
        mlflow.log_artifact(str(folder / "train.csv"), artifact_path="data")
    model = unique("iris-monitored")
    client = mlflow.MlflowClient()
    client.create_registered_model(model)
    client.create_model_version(model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    name = unique("iris-watch")
    reply = requests.post(
        f"{tracking_uri}/api/v1/deployments",
        json={"name": name, "model": model, "version": 1},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    reply = requests.put(
        f"{tracking_uri}/api/v1/models/{model}/versions/1/reference",
        params={"run_id": run.info.run_id, "path": "data/train.csv", "target": "species"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return {"name": name, "model": model, "uri": tracking_uri, "x": iris.data.astype(np.float32), "y": iris.target}


def _send(uri: str, deployment: str, rows: np.ndarray, prefix: str) -> list[str]:
    """One request per row through tritonclient, each with its own id; returns the ids."""
    client = triton.InferenceServerClient(url=uri.removeprefix("http://"))
    ids = []
    for i, row in enumerate(rows):
        tensor = triton.InferInput("X", [1, 4], "FP32")
        tensor.set_data_from_numpy(row.reshape(1, 4))
        request_id = f"{prefix}-{i}"
        result = client.infer(deployment, [tensor], request_id=request_id)
        assert result.get_response()["id"] == request_id
        ids.append(request_id)
    return ids


def _wait_written(uri: str, rows: int) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        counts = requests.get(f"{uri}/api/v1/monitoring/prediction-log", timeout=10).json()
        if counts["rows_written"] >= rows:
            return
        time.sleep(0.2)
    pytest.fail(f"prediction log never reached {rows} rows: {counts}")


def _evaluate(uri: str, deployment: str, start: int, end: int) -> dict:
    reply = requests.post(
        f"{uri}/api/v1/deployments/{deployment}/monitoring/evaluate",
        json={"start": start, "end": end},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["evaluation"]


def _now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def webhook_receiver():
    """A local HTTP server that records the JSON bodies POSTed to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_reference_is_profiled_from_the_run_artifact(monitored):
    reply = requests.get(
        f"{monitored['uri']}/api/v1/models/{monitored['model']}/versions/1/reference", timeout=10
    )
    reference = reply.json()["reference"]
    assert reference["rows"] == 150
    assert reference["task"] == "classification"
    assert [f["name"] for f in reference["features"]] == FEATURES
    assert reference["target"]["name"] == "species"


def test_reference_like_traffic_does_not_drift_and_labels_give_accuracy(monitored):
    uri, name = monitored["uri"], monitored["name"]
    before = requests.get(f"{uri}/api/v1/monitoring/prediction-log", timeout=10).json()["rows_written"]
    start = _now_ms()
    ids = _send(uri, name, monitored["x"], "calm")
    end = _now_ms() + 1
    _wait_written(uri, before + len(ids))

    labels = [{"request_id": i, "label": int(y)} for i, y in zip(ids, monitored["y"])]
    reply = requests.post(f"{uri}/api/v1/deployments/{name}/labels", json={"labels": labels}, timeout=30)
    assert reply.json() == {"stored": 150}

    evaluation = _evaluate(uri, name, start, end)
    assert evaluation["rows"] == 150
    drift = evaluation["drift"]
    assert drift["dataset_drift"] is False
    assert [c["column"] for c in drift["columns"]] == FEATURES
    assert {c["test"] for c in drift["columns"]} == {"ks"}
    performance = evaluation["performance"]
    assert performance["labeled_rows"] == 150
    metrics = dict(performance["metrics"])
    assert metrics["accuracy"] > 0.9


def test_shifted_traffic_drifts_fires_the_alert_and_the_report_says_so(monitored, webhook_receiver):
    uri, name = monitored["uri"], monitored["name"]
    hook_url, received = webhook_receiver
    rule = requests.post(
        f"{uri}/api/v1/deployments/{name}/alerts/rules",
        json={"metric": "drift_share", "comparison": "above", "threshold": 0.5, "severity": "critical",
              "webhook_url": hook_url},
        timeout=10,
    )
    assert rule.status_code == 200, rule.text
    before = requests.get(f"{uri}/api/v1/monitoring/prediction-log", timeout=10).json()["rows_written"]
    start = _now_ms()
    shifted = monitored["x"][:60] + np.float32(3.0)
    _send(uri, name, shifted, "shifted")
    end = _now_ms() + 1
    _wait_written(uri, before + 60)

    evaluation = _evaluate(uri, name, start, end)
    assert evaluation["rows"] == 60
    assert evaluation["drift"]["dataset_drift"] is True
    assert all(c["drift_detected"] for c in evaluation["drift"]["columns"])
    quality = {q["column"]: q for q in evaluation["data_quality"]}
    assert quality["petal_width"]["missing_share"] == 0.0
    assert quality["petal_width"]["out_of_range_share"] > 0.5
    [alert] = evaluation["alerts"]
    assert (alert["metric"], alert["value"], alert["severity"]) == ("drift_share", 1.0, "critical")

    deadline = time.time() + 20
    while not received and time.time() < deadline:
        time.sleep(0.1)
    [payload] = received
    assert payload["event"]["id"] == alert["id"]
    assert payload["rule"]["id"] == rule.json()["rule"]["id"]
    assert payload["evaluation"]["drift"]["dataset_drift"] is True
    events = requests.get(f"{uri}/api/v1/deployments/{name}/alerts/events", timeout=10).json()["events"]
    while events[0]["delivery"] != "delivered" and time.time() < deadline:
        time.sleep(0.1)
        events = requests.get(f"{uri}/api/v1/deployments/{name}/alerts/events", timeout=10).json()["events"]
    assert (events[0]["id"], events[0]["delivery"], events[0]["attempts"]) == (alert["id"], "delivered", 1)
    # Evaluating the same window again does not alert twice.
    assert _evaluate(uri, name, start, end)["alerts"] == []

    results = requests.get(
        f"{uri}/api/v1/deployments/{name}/monitoring/results",
        params={"metric": "drift_share"},
        timeout=10,
    ).json()["points"]
    assert [p["value"] for p in results][-1] == 1.0

    page = requests.get(
        f"{uri}/api/v1/deployments/{name}/monitoring/report",
        params={"start": start, "end": end, "format": "html"},
        timeout=30,
    )
    assert page.headers["content-type"].startswith("text/html")
    assert "Dataset drift: detected" in page.text and "<svg" in page.text

    metrics = requests.get(f"{uri}/metrics", timeout=10).text
    assert f'galley_monitoring_drift_share{{deployment="{name}"}} 1' in metrics


def test_bad_monitoring_requests_are_clear_4xx(monitored):
    uri, name = monitored["uri"], monitored["name"]
    bad_label = requests.post(f"{uri}/api/v1/deployments/{name}/labels", json={"labels": []}, timeout=10)
    assert bad_label.status_code == 400 and bad_label.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    unknown = requests.post(
        f"{uri}/api/v1/deployments/nope-{unique()}/labels", json={"request_id": "r", "label": 1}, timeout=10
    )
    assert unknown.status_code == 404
    window = requests.post(
        f"{uri}/api/v1/deployments/{name}/monitoring/evaluate", json={"window": "5s"}, timeout=10
    )
    assert window.status_code == 400
    garbage = requests.put(
        f"{uri}/api/v1/models/{monitored['model']}/versions/1/reference",
        params={"format": "parquet"},
        data=b"not parquet",
        timeout=10,
    )
    assert garbage.status_code == 400
    # The failed upload left the stored reference as it was.
    reference = requests.get(
        f"{uri}/api/v1/models/{monitored['model']}/versions/1/reference", timeout=10
    ).json()["reference"]
    assert reference["rows"] == 150
