"""The Python client (python/galley) against a running Galley: the same answers as the CLI and
the raw HTTP API, Feast-like shapes, and Galley's errors as exceptions. Skipped loudly without
`galley features`. Pure client checks (no server) run always."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import requests

import oracle as o
from galley import GalleyError, features, resolve_url

ENTITY_COLUMNS = ["driver_id", "customer_id", "event_timestamp", "label"]


# ---------------------------------------------------------------------------------------------
# No server needed


def test_url_resolution(monkeypatch):
    monkeypatch.delenv("GALLEY_URL", raising=False)
    assert resolve_url() == "http://127.0.0.1:5000"
    monkeypatch.setenv("GALLEY_URL", "http://galley.example:8080/")
    assert resolve_url() == "http://galley.example:8080"
    assert resolve_url("http://other:1/") == "http://other:1"


def test_argument_errors():
    frame = pd.DataFrame({"driver_id": [1], "event_timestamp": [pd.Timestamp("2024-01-01", tz="UTC")]})
    with pytest.raises(ValueError):
        features.get_historical_features(frame)  # neither features nor a service
    with pytest.raises(ValueError):
        features.get_historical_features(frame, features=["a:b"], feature_service="s")
    with pytest.raises(ValueError):
        features.get_historical_features(frame.drop(columns=["event_timestamp"]), features=["a:b"])
    with pytest.raises(ValueError):
        features.get_online_features(features=["a:b"], entities={"x": [1, 2], "y": [1]})
    with pytest.raises(TypeError):
        features.push("v", {"x": [1]})


def test_error_body_becomes_galley_error(monkeypatch):
    """Galley's JSON error body ({"error_code", "message"}) is what the exception carries."""

    class Fake:
        status_code = 404
        text = '{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no feature view named x"}'
        reason = "Not Found"
        url = "http://x/get-online-features"
        request = type("R", (), {"method": "POST"})()

        def json(self):
            return {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no feature view named x"}

    class Session:
        def post(self, *a, **kw):
            return Fake()

    monkeypatch.setattr("galley.features.session", lambda: Session())
    with pytest.raises(GalleyError) as err:
        features.get_online_features(features=["x:y"], entities={"driver_id": [1]})
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert err.value.message == "no feature view named x"
    assert err.value.status == 404


# ---------------------------------------------------------------------------------------------
# Against Galley


def test_client_historical_matches_cli_and_oracle(galley, dataset, meta, tmp_path):
    refs = meta["all_features"]
    ent = pd.read_parquet(dataset / "entity_df.parquet")
    frame = features.get_historical_features(ent, features=refs, url=galley.uri)
    joined = o.point_in_time(ent, dataset, meta, refs)
    assert len(frame) == len(ent)
    assert list(frame.columns) == ENTITY_COLUMNS + [r.split(":")[1] for r in refs]
    expected = o.group_rows(joined.frame, ENTITY_COLUMNS)
    got = o.group_rows(frame, ENTITY_COLUMNS)
    assert {k: len(v) for k, v in got.items()} == {k: len(v) for k, v in expected.items()}
    for key, rows in got.items():
        for ref in refs:
            column = ref.split(":")[1]
            assert o.same(frame[column].iloc[rows[0]], joined.frame[column].iloc[expected[key][0]]), (key, column)

    cli_out = tmp_path / "cli.parquet"
    galley.cli("features", "get-historical", "--entity-df", str(dataset / "entity_df.parquet"),
               "--features", ",".join(refs), "--output", str(cli_out))
    cli = pd.read_parquet(cli_out)
    assert list(cli.columns) == list(frame.columns) and len(cli) == len(frame)

    service = meta["feature_service"]["name"]
    by_service = features.get_historical_features(ent, feature_service=service, full_feature_names=True,
                                                  url=galley.uri)
    assert list(by_service.columns) == ENTITY_COLUMNS + [r.replace(":", "__") for r in meta["feature_service"]["features"]]

    # Another timestamp column name, naive times (taken as UTC)
    renamed = ent.rename(columns={"event_timestamp": "ts"})
    renamed["ts"] = renamed["ts"].dt.tz_convert("UTC").dt.tz_localize(None)
    again = features.get_historical_features(renamed, features=refs, timestamp_column="ts", url=galley.uri)
    assert len(again) == len(ent) and "ts" in again.columns


def test_client_historical_errors(galley, dataset):
    ent = pd.read_parquet(dataset / "entity_df.parquet")
    with pytest.raises(GalleyError) as err:
        features.get_historical_features(ent, features=["no_such_view:x"], url=galley.uri)
    assert err.value.error_code and err.value.message and 400 <= err.value.status < 500
    with pytest.raises(GalleyError) as err:
        features.get_historical_features(ent, feature_service="no_such_service", url=galley.uri)
    assert err.value.status and 400 <= err.value.status < 500


def test_client_online_matches_http(galley, meta, monkeypatch):
    window = meta["materialize"]
    galley.cli("features", "materialize", "--start", window["start"], "--end", window["end"])
    request = next(r for r in meta["online_requests"] if r["name"] == "drivers")
    raw = requests.post(f"{galley.uri}/get-online-features",
                        json={"features": request["features"], "entities": request["entities"]}, timeout=30).json()
    monkeypatch.setenv("GALLEY_URL", galley.uri)  # the URL from the environment this time
    assert features.get_online_features_response(request["features"], request["entities"]) == raw
    as_dict = features.get_online_features(features=request["features"], entities=request["entities"],
                                           include_event_timestamps=True)
    names = raw["metadata"]["feature_names"]
    assert [k for k in as_dict if not k.endswith("__ts")] == names
    for name, column in zip(names, raw["results"]):
        for value, status, got in zip(column["values"], column["statuses"], as_dict[name]):
            assert got == (None if status == "OUTSIDE_MAX_AGE" else value)
        assert len(as_dict[f"{name}__ts"]) == len(column["values"])
    assert as_dict["driver_id"] == request["entities"]["driver_id"]

    by_service = features.get_online_features(feature_service=meta["feature_service"]["name"],
                                              entities={"driver_id": [1001], "customer_id": ["c-edge"]},
                                              full_feature_names=True)
    assert list(by_service) == ["driver_id", "customer_id"] + [r.replace(":", "__") for r in meta["feature_service"]["features"]]


def test_client_push_then_read(galley):
    now = pd.Timestamp(dt.datetime.now(dt.timezone.utc)).floor("s")
    frame = pd.DataFrame({
        "driver_id": [9001, 9002],
        "event_timestamp": [now - pd.Timedelta(minutes=1), now],
        "conv_rate": [0.125, float("nan")],
        "acc_rate": [0.5, 0.25],
        "trips": [3, 4],
    })
    reply = features.push("driver_hourly", frame, url=galley.uri)
    assert isinstance(reply, dict)
    got = features.get_online_features_response(["driver_hourly:conv_rate", "driver_hourly:trips"],
                                                {"driver_id": [9001, 9002, 9003]}, url=galley.uri)
    columns = dict(zip(got["metadata"]["feature_names"], got["results"]))
    assert columns["conv_rate"]["values"][0] == 0.125 and columns["conv_rate"]["statuses"][0] == "PRESENT"
    assert columns["conv_rate"]["values"][1] is None  # NaN pushed as null
    assert columns["trips"]["values"][:2] == [3, 4]
    assert columns["trips"]["statuses"][2] == "NOT_FOUND"

    # An older row does not replace a newer one
    older = frame.iloc[[0]].assign(event_timestamp=[now - pd.Timedelta(hours=1)], conv_rate=[0.999])
    features.push("driver_hourly", older, url=galley.uri)
    again = features.get_online_features(features=["driver_hourly:conv_rate"], entities={"driver_id": [9001]},
                                         url=galley.uri)
    assert again["conv_rate"] == [0.125]

    with pytest.raises(GalleyError) as err:
        features.push("no_such_view", frame, url=galley.uri)
    assert err.value.error_code and err.value.message
