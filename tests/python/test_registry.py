"""Model registry through the real client: registered models, versions, aliases,
stages, search, and what bad input answers (MLflow registry REST API,
/api/2.0/mlflow/registered-models/* and /api/2.0/mlflow/model-versions/*)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.exceptions import MlflowException, RestException
from sklearn.linear_model import LogisticRegression

from conftest import unique

REG = "/api/2.0/mlflow"


def _data(n: int = 120, seed: int = 7):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.25 * x[:, 2] > 0).astype(int)
    return pd.DataFrame(x, columns=["f0", "f1", "f2"]), pd.Series(y, name="label")


@pytest.fixture(scope="module")
def trained(tracking_uri):
    """Two sklearn models logged in two runs of one fresh experiment.

    Model 2 is trained on flipped labels (and another C) so the two predict
    differently almost everywhere: a load through the registry shows which one
    it got."""
    mlflow.set_tracking_uri(tracking_uri)
    exp_id = mlflow.create_experiment(unique("registry"))
    features, labels = _data()
    out = []
    for i, (C, flip) in enumerate([(0.05, False), (20.0, True)], start=1):
        y = 1 - labels if flip else labels
        model = LogisticRegression(C=C, max_iter=200).fit(features, y)
        with mlflow.start_run(experiment_id=exp_id, run_name=unique(f"reg-m{i}")) as run:
            mlflow.log_param("C", C)
            info = mlflow.sklearn.log_model(model, name="model")
        out.append(
            SimpleNamespace(run_id=run.info.run_id, info=info, model=model, expected=np.asarray(model.predict(features)))
        )
    m1, m2 = out
    assert m1.info.model_uri == f"models:/{m1.info.model_id}" and m1.info.model_id.startswith("m-")
    assert (m1.expected != m2.expected).mean() > 0.9
    return SimpleNamespace(experiment_id=exp_id, features=features, m1=m1, m2=m2)


def _raises(code: str, fn, *args, **kwargs) -> MlflowException:
    with pytest.raises(MlflowException) as e:
        fn(*args, **kwargs)
    assert e.value.error_code == code, (e.value.error_code, str(e.value))
    return e.value


def _register_both(trained, name):
    v1 = mlflow.register_model(trained.m1.info.model_uri, name)
    v2 = mlflow.register_model(trained.m2.info.model_uri, name)
    return v1, v2


def _predicts_like(uri: str, m, trained):
    got = np.asarray(mlflow.pyfunc.load_model(uri).predict(trained.features))
    np.testing.assert_array_equal(got, m.expected)


def _registrations(model_id: str) -> set:
    """(name, version) pairs in the logged model's ``mlflow.modelVersions`` tag.

    The server appends {"name", "version": <int>} when model-versions/create has a
    model_id; mlflow.register_model then appends {"name", "version": "<str>"} itself."""
    tag = mlflow.get_logged_model(model_id).tags.get("mlflow.modelVersions", "[]")
    return {(e["name"], str(e["version"])) for e in json.loads(tag)}


def _call(api, method: str, endpoint: str, payload: dict):
    """GET sends query parameters; POST/PATCH/DELETE a JSON body (as the client does)."""
    if method == "GET":
        return api.get(endpoint, payload)
    return requests.request(method, api.url(f"{REG}/{endpoint}"), json=payload, timeout=30)


def _err(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert body.get("error_code") == code, body
    assert isinstance(body.get("message"), str) and body["message"]
    return body


# --------------------------------------------------------------------------- scenario


def test_register_model_from_logged_models(trained, client):
    name = unique("reg")
    v1, v2 = _register_both(trained, name)
    # The entity carries the proto's string.
    assert (v1.version, v2.version) == ("1", "2")
    for mv, m in [(v1, trained.m1), (v2, trained.m2)]:
        assert mv.name == name
        assert mv.status == "READY"
        assert mv.current_stage == "None"
        assert mv.source == m.info.model_uri  # models:/m-<id>, kept as given
        assert mv.run_id == m.run_id  # filled in by the server from the logged model
        # (MLflow 3.17 does not echo model_id back on model versions; not asserted.)
        assert mv.aliases == []
        assert isinstance(mv.creation_timestamp, int) and mv.creation_timestamp > 0

    got = client.get_model_version(name, "2")
    assert (got.version, got.status, got.source, got.run_id) == ("2", "READY", trained.m2.info.model_uri, trained.m2.run_id)
    # The client also accepts an int version.
    assert client.get_model_version(name, 1).version == "1"

    rm = client.get_registered_model(name)
    assert rm.name == name
    assert rm.aliases == {}
    # latest_versions: the newest version per stage; both are in stage "None".
    assert [(v.version, v.current_stage) for v in rm.latest_versions] == [("2", "None")]
    assert rm.creation_timestamp <= rm.last_updated_timestamp

    # register_model records the registration on the logged model (logged-models/set-tags).
    assert (name, "1") in _registrations(trained.m1.info.model_id)

    _predicts_like(f"models:/{name}/1", trained.m1, trained)
    _predicts_like(f"models:/{name}/2", trained.m2, trained)
    _predicts_like(f"models:/{name}/latest", trained.m2, trained)


def test_champion_alias_moves_and_loads(trained, client):
    name = unique("alias")
    _register_both(trained, name)

    client.set_registered_model_alias(name, "champion", 1)
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert client.get_model_version(name, "1").aliases == ["champion"]
    assert client.get_registered_model(name).aliases == {"champion": "1"}
    _predicts_like(f"models:/{name}@champion", trained.m1, trained)

    # Moving an alias is just setting it again.
    client.set_registered_model_alias(name, "champion", "2")
    client.set_registered_model_alias(name, "challenger", "1")
    mv = client.get_model_version_by_alias(name, "champion")
    assert (mv.name, mv.version, mv.run_id, mv.aliases) == (name, "2", trained.m2.run_id, ["champion"])
    assert client.get_model_version(name, "1").aliases == ["challenger"]
    assert client.get_registered_model(name).aliases == {"champion": "2", "challenger": "1"}
    # (MLflow's model-versions/search leaves aliases out of its results; not asserted.)

    _predicts_like(f"models:/{name}@champion", trained.m2, trained)
    _predicts_like(f"models:/{name}/1", trained.m1, trained)

    # Two aliases on one version.
    client.set_registered_model_alias(name, "prod", "2")
    assert sorted(client.get_model_version(name, "2").aliases) == ["champion", "prod"]

    client.delete_registered_model_alias(name, "challenger")
    assert client.get_model_version(name, "1").aliases == []
    assert client.get_registered_model(name).aliases == {"champion": "2", "prod": "2"}
    _raises("INVALID_PARAMETER_VALUE", client.get_model_version_by_alias, name, "challenger")


def test_stage_transitions_archive_existing(trained, client):
    name = unique("stage")
    _register_both(trained, name)
    v3 = mlflow.register_model(trained.m1.info.model_uri, name)
    assert v3.version == "3"

    mv = client.transition_model_version_stage(name, 1, "Staging")
    assert (mv.version, mv.current_stage) == ("1", "Staging")
    mv = client.transition_model_version_stage(name, "2", "Staging")
    assert mv.current_stage == "Staging"
    # Stage names are matched case-insensitively and answered canonically.
    mv = client.transition_model_version_stage(name, "1", "production")
    assert mv.current_stage == "Production"
    stages = {v.version: v.current_stage for v in client.search_model_versions(f"name='{name}'")}
    assert stages == {"1": "Production", "2": "Staging", "3": "None"}

    # archive_existing_versions archives only the versions in the target stage.
    mv = client.transition_model_version_stage(name, "3", "Production", archive_existing_versions=True)
    assert mv.current_stage == "Production"
    stages = {str(n): client.get_model_version(name, n).current_stage for n in (1, 2, 3)}
    assert stages == {"1": "Archived", "2": "Staging", "3": "Production"}

    assert [v.version for v in client.get_latest_versions(name, stages=["Production"])] == ["3"]
    assert [v.version for v in client.get_latest_versions(name, stages=["Staging"])] == ["2"]
    assert client.get_latest_versions(name, stages=["None"]) == []
    every = {v.current_stage: v.version for v in client.get_latest_versions(name)}
    assert every == {"Archived": "1", "Staging": "2", "Production": "3"}
    rm = client.get_registered_model(name)
    assert {v.current_stage: v.version for v in rm.latest_versions} == every

    _predicts_like(f"models:/{name}/Production", trained.m1, trained)
    _predicts_like(f"models:/{name}/Staging", trained.m2, trained)

    # Without archive_existing_versions two versions can share a stage.
    client.transition_model_version_stage(name, "2", "Production")
    assert client.get_model_version(name, "3").current_stage == "Production"
    assert [v.version for v in client.get_latest_versions(name, stages=["Production"])] == ["3"]
    # Back to None.
    assert client.transition_model_version_stage(name, "1", "None").current_stage == "None"


def test_search_model_versions_by_run_and_tag(trained, client):
    name = unique("search-mv")
    _register_both(trained, name)

    found = client.search_model_versions(f"run_id='{trained.m1.run_id}'")
    assert all(mv.run_id == trained.m1.run_id for mv in found)
    assert (name, "1") in {(mv.name, mv.version) for mv in found}
    assert (name, "2") not in {(mv.name, mv.version) for mv in found}

    found = client.search_model_versions(f"name='{name}' AND run_id='{trained.m2.run_id}'")
    assert [(mv.name, mv.version) for mv in found] == [(name, "2")]

    client.set_model_version_tag(name, "2", "k", "v")
    client.set_model_version_tag(name, "1", "k", "other")
    found = client.search_model_versions(f"name='{name}' AND tag.k='v'")
    assert [(mv.version, mv.tags) for mv in found] == [("2", {"k": "v"})]
    found = client.search_model_versions(f"name='{name}' AND tags.k != 'v'")
    assert [mv.version for mv in found] == ["1"]

    everything = client.search_model_versions(f"name='{name}'", order_by=["version_number ASC"])
    assert [mv.version for mv in everything] == ["1", "2"]
    everything = client.search_model_versions(f"name='{name}'", order_by=["version_number DESC"])
    assert [mv.version for mv in everything] == ["2", "1"]

    page = client.search_model_versions(f"name='{name}'", max_results=1, order_by=["version_number ASC"])
    assert [mv.version for mv in page] == ["1"] and page.token
    page = client.search_model_versions(
        f"name='{name}'", max_results=1, order_by=["version_number ASC"], page_token=page.token
    )
    assert [mv.version for mv in page] == ["2"]

    assert client.search_model_versions(f"name='{unique('nobody')}'") == []


# --------------------------------------------------------------------------- registered models


def test_registered_model_crud(client):
    name = unique("crud")
    rm = client.create_registered_model(name, tags={"team": "a", "tier": "1"}, description="first")
    assert (rm.name, rm.description, rm.tags) == (name, "first", {"team": "a", "tier": "1"})
    assert rm.latest_versions == [] and rm.aliases == {}
    assert isinstance(rm.creation_timestamp, int) and rm.creation_timestamp > 0

    got = client.get_registered_model(name)
    assert (got.name, got.description, got.tags) == (name, "first", {"team": "a", "tier": "1"})

    upd = client.update_registered_model(name, description="second")
    assert (upd.name, upd.description) == (name, "second")
    assert client.get_registered_model(name).description == "second"

    client.set_registered_model_tag(name, "team", "b")  # overwrite
    client.set_registered_model_tag(name, "new", "x")
    client.delete_registered_model_tag(name, "tier")
    got = client.get_registered_model(name)
    assert got.tags == {"team": "b", "new": "x"}
    assert got.last_updated_timestamp >= got.creation_timestamp

    # Deleting a tag that is not there is a no-op.
    client.delete_registered_model_tag(name, "tier")
    assert client.get_registered_model(name).tags == {"team": "b", "new": "x"}

    client.delete_registered_model(name)
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, name)
    # The name is free again.
    assert client.create_registered_model(name).description in (None, "")


def test_rename_carries_versions_and_aliases(trained, client):
    old, new = unique("old"), unique("new")
    _register_both(trained, old)
    client.set_registered_model_alias(old, "champion", "2")
    client.set_model_version_tag(old, "1", "k", "v")
    client.set_registered_model_tag(old, "team", "a")

    # The server answers {"registered_model": {...}}; the client returns None.
    client.rename_registered_model(old, new)

    got = client.get_registered_model(new)
    assert got.tags == {"team": "a"}
    assert got.aliases == {"champion": "2"}
    assert [v.name for v in got.latest_versions] == [new]
    mv = client.get_model_version_by_alias(new, "champion")
    assert (mv.name, mv.version, mv.run_id) == (new, "2", trained.m2.run_id)
    mv1 = client.get_model_version(new, "1")
    assert (mv1.name, mv1.tags, mv1.source) == (new, {"k": "v"}, trained.m1.info.model_uri)
    assert [v.version for v in client.search_model_versions(f"name='{new}'", order_by=["version_number ASC"])] == [
        "1",
        "2",
    ]
    _predicts_like(f"models:/{new}@champion", trained.m2, trained)

    _raises("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, old)
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_model_version, old, "1")
    assert client.search_model_versions(f"name='{old}'") == []
    # New versions continue the numbering under the new name.
    assert client.create_model_version(new, f"runs:/{trained.m1.run_id}/model", run_id=trained.m1.run_id).version == "3"


def test_search_registered_models_pagination(client):
    prefix = unique("srm")
    names = [f"{prefix}-{c}" for c in "edcba"]
    for i, n in enumerate(names):
        client.create_registered_model(n, tags={"parity": "even" if i % 2 == 0 else "odd"})
    want = sorted(names)

    seen, token, pages = [], None, 0
    while True:
        page = client.search_registered_models(
            filter_string=f"name LIKE '{prefix}%'", order_by=["name ASC"], max_results=2, page_token=token
        )
        pages += 1
        assert len(page) <= 2
        seen += [rm.name for rm in page]
        token = page.token
        if not token:
            break
        assert pages < 10
    assert seen == want
    assert pages == 3

    desc = client.search_registered_models(filter_string=f"name LIKE '{prefix}%'", order_by=["name DESC"])
    assert [rm.name for rm in desc] == want[::-1]

    exact = client.search_registered_models(filter_string=f"name = '{names[0]}'")
    assert [rm.name for rm in exact] == [names[0]]
    ilike = client.search_registered_models(filter_string=f"name ILIKE '{prefix.upper()}%'")
    assert sorted(rm.name for rm in ilike) == want
    even = client.search_registered_models(
        filter_string=f"name LIKE '{prefix}%' AND tags.parity = 'even'", order_by=["name ASC"]
    )
    assert [rm.name for rm in even] == sorted(names[0::2])

    assert client.search_registered_models(filter_string=f"name LIKE '{unique('none')}%'") == []


def test_delete_registered_model_deletes_versions(trained, client):
    name = unique("del")
    _register_both(trained, name)
    client.delete_registered_model(name)
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, name)
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_model_version, name, "1")
    assert client.search_model_versions(f"name='{name}'") == []
    # Re-created under the same name, numbering starts again.
    client.create_registered_model(name)
    assert client.create_model_version(name, f"runs:/{trained.m1.run_id}/model", run_id=trained.m1.run_id).version == "1"


# --------------------------------------------------------------------------- model versions


def test_create_model_version_from_runs_uri(trained, client):
    name = unique("mv-runs")
    client.create_registered_model(name)
    src = f"runs:/{trained.m1.run_id}/model"
    mv = client.create_model_version(name, source=src, run_id=trained.m1.run_id, tags={"a": "b"}, description="d")
    assert (mv.name, mv.version, mv.source, mv.run_id) == (name, "1", src, trained.m1.run_id)
    assert (mv.status, mv.current_stage, mv.description, mv.tags, mv.aliases) == ("READY", "None", "d", {"a": "b"}, [])
    assert not mv.model_id

    # The source is stored as given and is also the download URI. (With MLflow 3
    # logged models the run itself holds no MLmodel under "model", so this
    # version does not load; mlflow.register_model("runs:/...") resolves the
    # logged model client-side instead.)
    assert client.get_model_version_download_uri(name, "1") == src
    assert client.get_model_version(name, 1).source == src


def test_create_model_version_from_logged_model_uri(trained, client):
    name = unique("mv-lm")
    client.create_registered_model(name)
    m = trained.m2
    mv = client.create_model_version(name, source=m.info.model_uri, model_id=m.info.model_id)
    assert (mv.version, mv.source, mv.status) == ("1", m.info.model_uri, "READY")
    assert mv.run_id == m.run_id  # resolved from the logged model's source run

    # The download URI is the logged model's own artifact location.
    lm = mlflow.get_logged_model(m.info.model_id)
    assert client.get_model_version_download_uri(name, "1") == lm.artifact_location
    # The server records the registration on the logged model as well.
    assert (name, "1") in _registrations(m.info.model_id)
    _predicts_like(f"models:/{name}/1", m, trained)


def test_model_version_update_tags_download_uri_delete(trained, client):
    name = unique("mv-edit")
    _register_both(trained, name)

    upd = client.update_model_version(name, "1", description="better")
    assert (upd.version, upd.description) == ("1", "better")
    assert client.get_model_version(name, "1").description == "better"

    client.set_model_version_tag(name, "1", "k", "v")
    client.set_model_version_tag(name, "1", "k2", "v2")
    client.set_model_version_tag(name, "1", "k", "v-again")
    client.delete_model_version_tag(name, "1", "k2")
    assert client.get_model_version(name, "1").tags == {"k": "v-again"}
    assert client.get_model_version(name, "2").tags == {}
    client.delete_model_version_tag(name, "1", "k2")  # already gone: a no-op
    assert client.get_model_version(name, "1").tags == {"k": "v-again"}

    lm1 = mlflow.get_logged_model(trained.m1.info.model_id)
    assert client.get_model_version_download_uri(name, 1) == lm1.artifact_location

    client.set_registered_model_alias(name, "champion", "2")
    client.delete_model_version(name, "2")
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_model_version, name, "2")
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_model_version_download_uri, name, "2")
    # Its alias went with it.
    assert client.get_registered_model(name).aliases == {}
    _raises("INVALID_PARAMETER_VALUE", client.get_model_version_by_alias, name, "champion")
    assert [v.version for v in client.search_model_versions(f"name='{name}'")] == ["1"]
    assert [v.version for v in client.get_registered_model(name).latest_versions] == ["1"]
    # Version numbers are not reused.
    again = client.create_model_version(name, f"runs:/{trained.m2.run_id}/model", run_id=trained.m2.run_id)
    assert again.version == "3"


# --------------------------------------------------------------------------- bad input


def test_duplicate_registered_model_name(client, api):
    name = unique("dup")
    client.create_registered_model(name, tags={"t": "1"}, description="original")
    _raises("RESOURCE_ALREADY_EXISTS", client.create_registered_model, name, tags={"t": "2"}, description="other")
    got = client.get_registered_model(name)
    assert (got.description, got.tags) == ("original", {"t": "1"})

    _err(api.post("registered-models/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")

    other = unique("dup-other")
    client.create_registered_model(other)
    _raises("RESOURCE_ALREADY_EXISTS", client.rename_registered_model, other, name)
    assert client.get_registered_model(other).name == other


def test_unknown_model_and_version(trained, client, api):
    missing = unique("missing")
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, missing)
    _raises("RESOURCE_DOES_NOT_EXIST", client.update_registered_model, missing, description="x")
    _raises("RESOURCE_DOES_NOT_EXIST", client.rename_registered_model, missing, unique("to"))
    _raises("RESOURCE_DOES_NOT_EXIST", client.delete_registered_model, missing)
    _raises("RESOURCE_DOES_NOT_EXIST", client.set_registered_model_tag, missing, "k", "v")
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_latest_versions, missing)
    _raises(
        "RESOURCE_DOES_NOT_EXIST",
        client.create_model_version,
        missing,
        f"runs:/{trained.m1.run_id}/model",
        run_id=trained.m1.run_id,
    )
    _raises("RESOURCE_DOES_NOT_EXIST", client.set_registered_model_alias, missing, "champion", "1")
    # The client checks most of those with a registered-models/get first (is it a
    # prompt?), so the endpoints themselves are checked over raw REST.
    for method, endpoint, payload in [
        ("GET", "registered-models/get", {"name": missing}),
        ("PATCH", "registered-models/update", {"name": missing, "description": "x"}),
        ("POST", "registered-models/rename", {"name": missing, "new_name": unique("to")}),
        ("DELETE", "registered-models/delete", {"name": missing}),
        ("POST", "registered-models/set-tag", {"name": missing, "key": "k", "value": "v"}),
        ("DELETE", "registered-models/delete-tag", {"name": missing, "key": "k"}),
        ("POST", "registered-models/get-latest-versions", {"name": missing}),
        ("POST", "registered-models/alias", {"name": missing, "alias": "a", "version": "1"}),
        ("DELETE", "registered-models/alias", {"name": missing, "alias": "a"}),
        ("GET", "registered-models/alias", {"name": missing, "alias": "a"}),
        ("DELETE", "model-versions/delete-tag", {"name": missing, "version": "1", "key": "k"}),
    ]:
        _err(_call(api, method, endpoint, payload), 404, "RESOURCE_DOES_NOT_EXIST")
    assert client.search_registered_models(filter_string=f"name = '{missing}'") == []

    name = unique("known")
    client.create_registered_model(name)
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_model_version, name, "1")
    _raises("RESOURCE_DOES_NOT_EXIST", client.update_model_version, name, "1", description="x")
    _raises("RESOURCE_DOES_NOT_EXIST", client.delete_model_version, name, "1")
    _raises("RESOURCE_DOES_NOT_EXIST", client.transition_model_version_stage, name, "1", "Staging")
    _raises("RESOURCE_DOES_NOT_EXIST", client.set_model_version_tag, name, "1", "k", "v")
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_model_version_download_uri, name, "1")
    _err(api.get("model-versions/get", {"name": name, "version": "1"}), 404, "RESOURCE_DOES_NOT_EXIST")
    # An unknown alias of a known model.
    _raises("INVALID_PARAMETER_VALUE", client.get_model_version_by_alias, name, "nobody")
    _err(api.get("registered-models/alias", {"name": name, "alias": "nobody"}), 400, "INVALID_PARAMETER_VALUE")
    # A version that is not a number.
    _err(api.get("model-versions/get", {"name": name, "version": "abc"}), 400, "INVALID_PARAMETER_VALUE")
    assert client.get_registered_model(name).latest_versions == []


@pytest.mark.parametrize("alias", ["latest", "LATEST", "v1", "V2", "v10"])
def test_reserved_alias_names(trained, client, api, alias):
    name = unique("resv")
    _register_both(trained, name)
    e = _raises("INVALID_PARAMETER_VALUE", client.set_registered_model_alias, name, alias, "1")
    assert isinstance(e, RestException)  # the server refused it, not the client
    body = _err(
        api.post("registered-models/alias", {"name": name, "alias": alias, "version": "1"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "reserved" in body["message"]
    assert client.get_registered_model(name).aliases == {}
    assert client.get_model_version(name, "1").aliases == []


def test_bad_alias_characters_rejected_by_server(trained, client, api):
    name = unique("badalias")
    _register_both(trained, name)
    for alias in ["has space", "semi;colon", "a/b"]:
        _err(
            api.post("registered-models/alias", {"name": name, "alias": alias, "version": "1"}),
            400,
            "INVALID_PARAMETER_VALUE",
        )
    # Ordinary names with _ and - and digits are fine, e.g. "v1-candidate".
    client.set_registered_model_alias(name, "v1-candidate_2", "1")
    assert client.get_registered_model(name).aliases == {"v1-candidate_2": "1"}


def test_alias_to_missing_version(trained, client, api):
    name = unique("alias-missing")
    _register_both(trained, name)
    client.set_registered_model_alias(name, "champion", "1")
    _raises("RESOURCE_DOES_NOT_EXIST", client.set_registered_model_alias, name, "champion", "7")
    _raises("RESOURCE_DOES_NOT_EXIST", client.set_registered_model_alias, name, "other", "7")
    _err(
        api.post("registered-models/alias", {"name": name, "alias": "other", "version": "7"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    # Nothing changed.
    assert client.get_registered_model(name).aliases == {"champion": "1"}


def test_invalid_stage(trained, client, api):
    name = unique("badstage")
    _register_both(trained, name)
    _raises("INVALID_PARAMETER_VALUE", client.transition_model_version_stage, name, "1", "Bogus")
    _err(
        api.post(
            "model-versions/transition-stage",
            {"name": name, "version": "1", "stage": "Bogus", "archive_existing_versions": False},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert client.get_model_version(name, "1").current_stage == "None"
    _raises("INVALID_PARAMETER_VALUE", client.get_latest_versions, name, stages=["Bogus"])


def test_delete_registered_model_with_aliases(trained, client):
    # MLflow allows it: the aliases go away with the model.
    name = unique("del-alias")
    _register_both(trained, name)
    client.set_registered_model_alias(name, "champion", "2")
    client.delete_registered_model(name)
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_registered_model, name)
    _raises("RESOURCE_DOES_NOT_EXIST", client.get_model_version_by_alias, name, "champion")

    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{trained.m1.run_id}/model", run_id=trained.m1.run_id)
    assert client.get_registered_model(name).aliases == {}
    assert client.get_model_version(name, "1").aliases == []


def test_model_version_source_must_match_run_or_model(trained, client):
    name = unique("src")
    client.create_registered_model(name)
    # runs:/ source naming another run than run_id (or no run_id at all).
    _raises(
        "INVALID_PARAMETER_VALUE",
        client.create_model_version,
        name,
        f"runs:/{trained.m1.run_id}/model",
        run_id=trained.m2.run_id,
    )
    _raises("INVALID_PARAMETER_VALUE", client.create_model_version, name, f"runs:/{trained.m1.run_id}/model")
    # models:/m-... source without model_id, or with another one.
    _raises("INVALID_PARAMETER_VALUE", client.create_model_version, name, trained.m1.info.model_uri)
    _raises(
        "INVALID_PARAMETER_VALUE",
        client.create_model_version,
        name,
        trained.m1.info.model_uri,
        model_id=trained.m2.info.model_id,
    )
    # Nothing was created.
    assert client.search_model_versions(f"name='{name}'") == []
    assert client.create_model_version(name, f"runs:/{trained.m1.run_id}/model", run_id=trained.m1.run_id).version == "1"


def test_bad_search_input(client, api):
    _raises("INVALID_PARAMETER_VALUE", client.search_registered_models, filter_string="bogus filter")
    _raises("INVALID_PARAMETER_VALUE", client.search_model_versions, "bogus")
    _err(api.get("registered-models/search", {"filter": "bogus filter"}), 400, "INVALID_PARAMETER_VALUE")
    _err(api.get("registered-models/search", {"page_token": "garbage"}), 400, "INVALID_PARAMETER_VALUE")
    _err(api.get("registered-models/search", {"max_results": 1001}), 400, "INVALID_PARAMETER_VALUE")
    _err(api.post("registered-models/create", {}), 400, "INVALID_PARAMETER_VALUE")
    _err(api.post("registered-models/create", {"name": ""}), 400, "INVALID_PARAMETER_VALUE")


# --------------------------------------------------------------------------- wire shapes


def test_rest_shapes(trained, api):
    """The JSON the client relies on, for the server implementer."""
    name = unique("wire")
    r = api.post("registered-models/create", {"name": name, "tags": [{"key": "k", "value": "v"}], "description": "d"})
    assert r.status_code == 200, r.text
    rm = r.json()["registered_model"]
    assert (rm["name"], rm["description"], rm["tags"]) == (name, "d", [{"key": "k", "value": "v"}])
    assert isinstance(rm["creation_timestamp"], int) and isinstance(rm["last_updated_timestamp"], int)

    m = trained.m1
    r = api.post("model-versions/create", {"name": name, "source": m.info.model_uri, "model_id": m.info.model_id})
    assert r.status_code == 200, r.text
    mv = r.json()["model_version"]
    assert mv["version"] == "1"  # a string on the wire
    assert (mv["name"], mv["source"], mv["run_id"], mv["status"], mv["current_stage"]) == (
        name,
        m.info.model_uri,
        m.run_id,
        "READY",
        "None",
    )

    r = api.post("registered-models/alias", {"name": name, "alias": "champion", "version": "1"})
    assert r.status_code == 200 and r.json() == {}, r.text

    rm = api.get("registered-models/get", {"name": name}).json()["registered_model"]
    assert rm["aliases"] == [{"alias": "champion", "version": "1"}]
    assert [(v["version"], v["current_stage"]) for v in rm["latest_versions"]] == [("1", "None")]

    mv = api.get("model-versions/get", {"name": name, "version": "1"}).json()["model_version"]
    assert mv["aliases"] == ["champion"]
    mv = api.get("registered-models/alias", {"name": name, "alias": "champion"}).json()["model_version"]
    assert (mv["version"], mv["aliases"]) == ("1", ["champion"])

    r = api.get("registered-models/search", {"filter": f"name = '{name}'", "max_results": 1})
    body = r.json()
    assert [x["name"] for x in body["registered_models"]] == [name]
    r = api.get("model-versions/search", {"filter": f"name = '{name}'"})
    assert [x["version"] for x in r.json()["model_versions"]] == ["1"]
    r = api.post("registered-models/get-latest-versions", {"name": name, "stages": ["None"]})
    assert [x["version"] for x in r.json()["model_versions"]] == ["1"]
    r = api.get("model-versions/get-download-uri", {"name": name, "version": "1"})
    assert r.json()["artifact_uri"] == mlflow.get_logged_model(m.info.model_id).artifact_location

    # Nothing matches: MLflow leaves the list out entirely.
    r = api.get("registered-models/search", {"filter": f"name = '{unique('none')}'"})
    assert r.status_code == 200 and r.json().get("registered_models", []) == []
