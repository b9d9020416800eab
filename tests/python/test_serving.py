"""Serving through the real clients: a registered ONNX model deployed by name, answered
on the Open Inference Protocol V2 by ``tritonclient.http`` (binary tensors, its default,
and JSON) and on ``:predict`` by plain ``requests``. Outputs are compared with the
onnxruntime answers recorded next to the fixture (scripts/make_onnx_fixtures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from conftest import unique

pytestmark = pytest.mark.galley_only

FIXTURES = Path(__file__).resolve().parents[2] / "crates/galley-onnx/tests/fixtures"


def _fixture(name: str):
    recorded = json.loads((FIXTURES / f"{name}.json").read_text())
    x = np.array(recorded["inputs"][0]["data"], dtype=np.float32).reshape(recorded["inputs"][0]["shape"])
    outputs = {o["name"]: np.array(o["data"]).reshape(o["shape"]) for o in recorded["outputs"]}
    return FIXTURES / f"{name}.onnx", x, outputs


@pytest.fixture(scope="module")
def deployment(tracking_uri):
    """Logs the fixture as a run artifact, registers it and deploys version 1."""
    path, x, expected = _fixture("logistic_regression_iris")
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(path), artifact_path="model")
    model = unique("iris")
    client = mlflow.MlflowClient()
    client.create_registered_model(model)
    # A bare .onnx file is no MLflow model, so register its folder directly.
    version = client.create_model_version(model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    assert version.version == "1"
    name = unique("iris-api")
    reply = requests.post(
        f"{tracking_uri}/api/v1/deployments",
        json={"name": name, "model": model, "version": 1, "max_batch_size": 16},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return {"name": name, "model": model, "x": x, "expected": expected, "uri": tracking_uri}


@pytest.fixture(scope="module")
def triton_client(deployment):
    return triton.InferenceServerClient(url=deployment["uri"].removeprefix("http://"))


def test_signature_was_detected_at_registration(deployment):
    reply = requests.get(
        f"{deployment['uri']}/api/v1/models/{deployment['model']}/versions/1/signature", timeout=10
    )
    signature = reply.json()["signature"]
    assert signature["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [None, 4]}]
    assert signature["path"] == "logistic_regression_iris.onnx"


def test_health_and_metadata(triton_client, deployment):
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    assert triton_client.is_model_ready(deployment["name"])
    assert not triton_client.is_model_ready(deployment["name"], model_version="9")
    assert "binary_tensor_data" in triton_client.get_server_metadata()["extensions"]
    meta = triton_client.get_model_metadata(deployment["name"])
    assert meta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    assert {o["name"] for o in meta["outputs"]} == {"output_label", "output_probability"}


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False])
def test_infer_matches_onnxruntime(triton_client, deployment, binary_in, binary_out):
    x = deployment["x"]
    inp = triton.InferInput("X", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary_in)
    outputs = [
        triton.InferRequestedOutput("output_label", binary_data=binary_out),
        triton.InferRequestedOutput("output_probability", binary_data=binary_out),
    ]
    result = triton_client.infer(deployment["name"], [inp], outputs=outputs)
    np.testing.assert_array_equal(result.as_numpy("output_label"), deployment["expected"]["output_label"])
    np.testing.assert_allclose(
        result.as_numpy("output_probability"), deployment["expected"]["output_probability"], atol=1e-5
    )
    assert result.get_response()["model_version"] == "1"


def test_infer_with_default_outputs_and_pinned_version(triton_client, deployment):
    x = deployment["x"]
    inp = triton.InferInput("X", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = triton_client.infer(deployment["name"], [inp], model_version="1")
    np.testing.assert_array_equal(result.as_numpy("output_label"), deployment["expected"]["output_label"])


def test_bad_requests_raise_clear_errors(triton_client, deployment):
    wrong = np.zeros((2, 3), dtype=np.float32)
    inp = triton.InferInput("X", [2, 3], "FP32")
    inp.set_data_from_numpy(wrong)
    with pytest.raises(InferenceServerException, match=r"must have shape \[-1, 4\]"):
        triton_client.infer(deployment["name"], [inp])
    ints = triton.InferInput("X", [1, 4], "INT64")
    ints.set_data_from_numpy(np.zeros((1, 4), dtype=np.int64))
    with pytest.raises(InferenceServerException, match="must be FP32"):
        triton_client.infer(deployment["name"], [ints])
    with pytest.raises(InferenceServerException):
        triton_client.infer("no-such-deployment", [inp])


def test_predict_route_with_requests(deployment):
    rows = deployment["x"].tolist()
    reply = requests.post(
        f"{deployment['uri']}/v1/models/{deployment['name']}:predict", json={"instances": rows}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    predictions = reply.json()["predictions"]
    assert [p["output_label"] for p in predictions] == deployment["expected"]["output_label"].tolist()
    np.testing.assert_allclose(
        [p["output_probability"] for p in predictions], deployment["expected"]["output_probability"], atol=1e-5
    )
    bad = requests.post(
        f"{deployment['uri']}/v1/models/{deployment['name']}:predict", json={"instances": []}, timeout=10
    )
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
