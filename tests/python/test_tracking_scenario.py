"""The issue's scenario: an ordinary training script using the fluent API, then
everything a user does afterwards with what it logged (search, metric history,
artifacts, the logged model, the dataset)."""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from conftest import unique  # noqa: E402

STEPS = 5


def _synthetic(seed: int = 0, n: int = 200):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] - 0.25 * x[:, 2] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    df = pd.DataFrame(x, columns=["f0", "f1", "f2"])
    df["label"] = y
    return df


def _train_script(outputs_dir: Path, C: float, team: str):
    """What a user's training script looks like. Returns what the tests check."""
    df = _synthetic()
    features = df[["f0", "f1", "f2"]]
    labels = df["label"]

    with mlflow.start_run(run_name=unique("scenario-main")) as run:
        mlflow.log_params({"C": str(C), "solver": "lbfgs", "max_iter": 200})
        mlflow.set_tags({"team": team, "stage": "dev"})

        dataset = mlflow.data.from_pandas(df, name="synthetic-train", targets="label")
        mlflow.log_input(dataset, context="training")

        losses = []
        for step in range(STEPS):
            # a fake training curve, logged per step
            loss = 1.0 / (step + 1)
            losses.append(loss)
            mlflow.log_metric("loss", loss, step=step)
            mlflow.log_metric("acc", 0.5 + 0.05 * step, step=step)

        model = LogisticRegression(C=C, max_iter=200).fit(features, labels)
        acc = float((model.predict(features) == labels).mean())
        # The final (highest step) value is the one search_runs sees.
        mlflow.log_metric("acc", acc, step=STEPS)

        fig, ax = plt.subplots()
        ax.plot(range(STEPS), losses)
        ax.set_title("loss")
        mlflow.log_figure(fig, "plots/loss.png")
        plt.close(fig)

        outputs_dir.mkdir(parents=True, exist_ok=True)
        (outputs_dir / "summary.txt").write_text(f"acc={acc}\n")
        (outputs_dir / "config.json").write_text(json.dumps({"C": C, "features": 3}))
        (outputs_dir / "nested").mkdir(exist_ok=True)
        (outputs_dir / "nested" / "weights.bin").write_bytes(bytes(range(256)) * 40)
        mlflow.log_artifacts(str(outputs_dir), artifact_path="outputs")

        model_info = mlflow.sklearn.log_model(model, name="model", input_example=features.iloc[:3])

    return {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "acc": acc,
        "model": model,
        "features": features,
        "model_info": model_info,
        "dataset": dataset,
        "outputs_dir": outputs_dir,
    }


@pytest.fixture(scope="module")
def scenario(tracking_uri, tmp_path_factory):
    mlflow.set_tracking_uri(tracking_uri)
    exp_name = unique("scenario")
    exp_id = mlflow.create_experiment(exp_name)
    mlflow.set_experiment(experiment_id=exp_id)

    main = _train_script(tmp_path_factory.mktemp("outputs"), C=1.0, team="x")

    # Other runs of the same experiment, with known values, to check filters
    # and ordering. (name, C, team, acc, end status)
    others = {}
    for name, C, team, acc, status in [
        ("low", "0.1", "x", 0.301, "FINISHED"),
        ("mid", "1.0", "y", 0.701, "FINISHED"),
        ("high", "10.0", "x", 0.901, "FINISHED"),
        ("failed", "1.0", "x", 0.801, "FAILED"),
    ]:
        with mlflow.start_run(run_name=unique(f"scenario-{name}")) as r:
            mlflow.log_param("C", C)
            mlflow.log_param("solver", "liblinear")
            mlflow.set_tag("team", team)
            mlflow.log_metric("acc", acc)
        if status != "FINISHED":
            mlflow.MlflowClient().set_terminated(r.info.run_id, status=status)
        others[name] = {"run_id": r.info.run_id, "acc": acc, "C": C, "team": team, "status": status}

    # A run still RUNNING without an acc metric.
    running = mlflow.MlflowClient().create_run(exp_id, run_name=unique("scenario-running"), tags={"team": "x"})
    others["running"] = {"run_id": running.info.run_id, "acc": None, "C": None, "team": "x", "status": "RUNNING"}

    mlflow.set_experiment(experiment_id="0")
    return {"experiment_id": exp_id, "experiment_name": exp_name, "main": main, "others": others}


def _ids(runs):
    return [r.info.run_id for r in runs]


def test_main_run_recorded(scenario):
    main = scenario["main"]
    run = mlflow.get_run(main["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.lifecycle_stage == "active"
    assert run.info.end_time is not None and run.info.end_time >= run.info.start_time
    assert run.data.params == {"C": "1.0", "solver": "lbfgs", "max_iter": "200"}
    assert run.data.tags["team"] == "x"
    assert run.data.tags["stage"] == "dev"
    assert run.data.tags["mlflow.runName"] == run.info.run_name
    # latest value = the one at the highest step
    assert run.data.metrics["acc"] == pytest.approx(main["acc"])
    assert run.data.metrics["loss"] == pytest.approx(1.0 / STEPS)


def test_metric_history_every_step_in_order(scenario, client):
    run_id = scenario["main"]["run_id"]
    loss = client.get_metric_history(run_id, "loss")
    assert [m.step for m in loss] == list(range(STEPS))
    assert [m.value for m in loss] == pytest.approx([1.0 / (s + 1) for s in range(STEPS)])
    assert all(m.key == "loss" for m in loss)
    assert all(isinstance(m.timestamp, int) and m.timestamp > 0 for m in loss)

    acc = client.get_metric_history(run_id, "acc")
    assert [m.step for m in acc] == list(range(STEPS + 1))
    assert acc[-1].value == pytest.approx(scenario["main"]["acc"])
    assert client.get_metric_history(run_id, "no-such-metric") == []


def test_search_metric_filter_and_order(scenario, client):
    exp = scenario["experiment_id"]
    main, o = scenario["main"], scenario["others"]
    runs = client.search_runs([exp], filter_string="metrics.acc > 0.5", order_by=["metrics.acc DESC"])
    expected = sorted(
        [(main["run_id"], main["acc"])] + [(v["run_id"], v["acc"]) for v in o.values() if v["acc"] and v["acc"] > 0.5],
        key=lambda t: -t[1],
    )
    assert _ids(runs) == [rid for rid, _ in expected]

    asc = client.search_runs([exp], filter_string="metrics.acc > 0.5", order_by=["metrics.acc ASC"])
    assert _ids(asc) == list(reversed(_ids(runs)))


def test_search_param_tag_status_like(scenario, client):
    exp = scenario["experiment_id"]
    main, o = scenario["main"], scenario["others"]

    by_param = client.search_runs([exp], filter_string="params.C = '1.0'")
    assert set(_ids(by_param)) == {main["run_id"], o["mid"]["run_id"], o["failed"]["run_id"]}

    by_tag = client.search_runs([exp], filter_string="tags.team = 'x'")
    assert set(_ids(by_tag)) == {main["run_id"]} | {v["run_id"] for v in o.values() if v["team"] == "x"}

    finished = client.search_runs([exp], filter_string="attributes.status = 'FINISHED'")
    assert set(_ids(finished)) == {main["run_id"]} | {v["run_id"] for v in o.values() if v["status"] == "FINISHED"}

    like = client.search_runs([exp], filter_string="params.solver LIKE 'lib%'")
    assert set(_ids(like)) == {v["run_id"] for v in o.values() if v["C"] is not None}

    name_like = client.search_runs([exp], filter_string="attributes.run_name LIKE 'scenario-main-%'")
    assert _ids(name_like) == [main["run_id"]]

    combined = client.search_runs(
        [exp],
        filter_string="metrics.acc >= 0.7 and tags.team = 'x' and attributes.status = 'FINISHED'",
        order_by=["metrics.acc DESC"],
    )
    expected = sorted([(main["run_id"], main["acc"]), (o["high"]["run_id"], 0.901)], key=lambda t: -t[1])
    assert _ids(combined) == [rid for rid, _ in expected]


def test_fluent_search_runs_dataframe(scenario):
    exp = scenario["experiment_id"]
    main = scenario["main"]
    df = mlflow.search_runs(
        experiment_ids=[exp],
        filter_string="metrics.acc > 0.5 and params.C = '1.0'",
        order_by=["metrics.acc DESC"],
    )
    assert isinstance(df, pd.DataFrame)
    assert main["run_id"] in set(df["run_id"])
    row = df[df["run_id"] == main["run_id"]].iloc[0]
    assert row["params.C"] == "1.0"
    assert row["tags.team"] == "x"
    assert row["metrics.acc"] == pytest.approx(main["acc"])
    assert row["status"] == "FINISHED"
    # ordered by acc, descending
    assert list(df["metrics.acc"]) == sorted(df["metrics.acc"], reverse=True)

    by_name = mlflow.search_runs(experiment_names=[scenario["experiment_name"]], output_format="list")
    assert len(by_name) == 1 + len(scenario["others"])


def test_search_by_dataset(scenario, client):
    exp = scenario["experiment_id"]
    main = scenario["main"]
    runs = client.search_runs([exp], filter_string="datasets.name = 'synthetic-train'")
    assert _ids(runs) == [main["run_id"]]
    runs = client.search_runs([exp], filter_string=f"datasets.digest = '{main['dataset'].digest}'")
    assert _ids(runs) == [main["run_id"]]
    runs = client.search_runs([exp], filter_string="datasets.context = 'training'")
    assert _ids(runs) == [main["run_id"]]


def test_dataset_input(scenario):
    main = scenario["main"]
    run = mlflow.get_run(main["run_id"])
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    ds = inputs[0].dataset
    assert ds.name == "synthetic-train"
    assert ds.digest == main["dataset"].digest
    assert ds.source_type  # e.g. "code" for an in-memory DataFrame
    assert json.loads(ds.source) is not None
    assert ds.profile and json.loads(ds.profile)["num_rows"] == 200
    assert json.loads(ds.schema)  # mlflow colspec schema, JSON
    tags = {t.key: t.value for t in inputs[0].tags}
    assert tags.get("mlflow.data.context") == "training"


def test_artifacts_listing(scenario, client):
    run_id = scenario["main"]["run_id"]
    root = {f.path: f for f in client.list_artifacts(run_id)}
    assert {"outputs", "plots"} <= set(root)
    assert root["outputs"].is_dir and root["plots"].is_dir

    outputs = {f.path: f for f in client.list_artifacts(run_id, "outputs")}
    assert set(outputs) == {"outputs/summary.txt", "outputs/config.json", "outputs/nested"}
    assert outputs["outputs/nested"].is_dir
    assert not outputs["outputs/summary.txt"].is_dir
    src = scenario["main"]["outputs_dir"]
    assert outputs["outputs/config.json"].file_size == (src / "config.json").stat().st_size

    nested = client.list_artifacts(run_id, "outputs/nested")
    assert [(f.path, f.is_dir, f.file_size) for f in nested] == [("outputs/nested/weights.bin", False, 256 * 40)]

    plots = client.list_artifacts(run_id, "plots")
    assert [f.path for f in plots] == ["plots/loss.png"]
    assert plots[0].file_size > 0


def test_artifacts_download(scenario, tmp_path):
    run_id = scenario["main"]["run_id"]
    src = scenario["main"]["outputs_dir"]
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="outputs", dst_path=str(tmp_path / "dl"))
    cmp = filecmp.dircmp(src, local)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    assert (Path(local) / "nested" / "weights.bin").read_bytes() == bytes(range(256)) * 40

    png = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="plots/loss.png", dst_path=str(tmp_path / "p"))
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    single = mlflow.artifacts.download_artifacts(
        artifact_uri=f"runs:/{run_id}/outputs/summary.txt", dst_path=str(tmp_path / "s")
    )
    assert Path(single).read_text() == (src / "summary.txt").read_text()


def test_logged_model(scenario, client):
    main = scenario["main"]
    info = main["model_info"]
    assert info.model_uri.startswith("models:/m-")
    assert info.model_id and info.model_uri == f"models:/{info.model_id}"
    assert info.run_id == main["run_id"]

    lm = mlflow.get_logged_model(info.model_id)
    assert lm.model_id == info.model_id
    assert lm.name == "model"
    assert lm.experiment_id == main["experiment_id"]
    assert lm.source_run_id == main["run_id"]
    assert str(lm.status).endswith("READY")

    # log_model re-logs the run's step-0 metrics with model_id set (POST runs/log-batch
    # with Metric.model_id); they show up as the model's metrics.
    linked = {(m.key, m.step) for m in lm.metrics}
    assert linked == {("loss", 0), ("acc", 0)}
    assert all(m.model_id == info.model_id and m.run_id == main["run_id"] for m in lm.metrics)

    # The run lists the model among its outputs.
    run = mlflow.get_run(main["run_id"])
    assert info.model_id in [o.model_id for o in run.outputs.model_outputs]

    found = client.search_logged_models(experiment_ids=[main["experiment_id"]])
    assert info.model_id in [m.model_id for m in found]


def test_load_model_predicts_like_in_memory(scenario):
    main = scenario["main"]
    loaded = mlflow.pyfunc.load_model(main["model_info"].model_uri)
    features = main["features"]
    np.testing.assert_array_equal(np.asarray(loaded.predict(features)), main["model"].predict(features))

    sk = mlflow.sklearn.load_model(main["model_info"].model_uri)
    np.testing.assert_allclose(sk.predict_proba(features), main["model"].predict_proba(features))


def test_run_view_type_in_scenario(scenario, client):
    # Nothing deleted in the scenario: ACTIVE_ONLY == ALL and DELETED_ONLY is empty.
    exp = scenario["experiment_id"]
    active = client.search_runs([exp], run_view_type=ViewType.ACTIVE_ONLY)
    everything = client.search_runs([exp], run_view_type=ViewType.ALL)
    assert set(_ids(active)) == set(_ids(everything))
    assert len(active) == 1 + len(scenario["others"])
    assert client.search_runs([exp], run_view_type=ViewType.DELETED_ONLY) == []


def test_runs_uri_resolves_to_logged_model(scenario, client):
    """`runs:/<run>/model` goes through logged-models/search (name = 'model') in MLflow 3."""
    main = scenario["main"]
    run_id = main["run_id"]
    loaded = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    features = main["features"]
    np.testing.assert_array_equal(np.asarray(loaded.predict(features)), main["model"].predict(features))
    listed = {a.path for a in client.list_artifacts(run_id, "model")}
    assert "model/MLmodel" in listed


def test_search_logged_models_orders_by_metrics(tracking_uri):
    """``order_by`` on ``metrics.<key>``: each model's latest value, optionally for one dataset;
    models without the metric come last."""
    experiment = mlflow.create_experiment(unique("lm-order"))
    ids = []
    with mlflow.start_run(experiment_id=experiment):
        for acc in [0.7, 0.9, 0.8]:
            model = mlflow.initialize_logged_model(name="m", experiment_id=experiment)
            mlflow.log_metric("acc", acc, model_id=model.model_id)
            ids.append(model.model_id)
        bare = mlflow.initialize_logged_model(name="m", experiment_id=experiment)
    found = mlflow.search_logged_models(
        experiment_ids=[experiment],
        order_by=[{"field_name": "metrics.acc", "ascending": False}],
        output_format="list",
    )
    assert [m.model_id for m in found] == [ids[1], ids[2], ids[0], bare.model_id]
    ascending = mlflow.search_logged_models(
        experiment_ids=[experiment],
        order_by=[{"field_name": "metrics.acc", "ascending": True}],
        output_format="list",
    )
    assert [m.model_id for m in ascending] == [ids[0], ids[2], ids[1], bare.model_id]
