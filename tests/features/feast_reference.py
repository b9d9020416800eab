"""Runs Feast on a dataset from make_dataset.py and writes what it answers.

    python tests/features/feast_reference.py DATASET_DIR OUT_DIR

Builds an equivalent Feast repository in a temporary folder (file offline store, SQLite online
store, local provider): the same entities, FileSources with ``created_timestamp_column``, feature
views with the same ttl (``0`` = no lower bound) and schema, and the feature service. Then:

* ``get_historical_features(entity_df, all features).to_df()``     -> OUT_DIR/historical.parquet
* the same with ``full_feature_names=True``                        -> OUT_DIR/historical_full_names.parquet
* the same with ``filter_by_created_timestamp=True``               -> OUT_DIR/historical_created_cutoff.parquet
* the same through the feature service                             -> OUT_DIR/historical_service.parquet
* ``materialize(start, end)`` with the window from meta.json, then ``get_online_features`` for each
  request in meta.json                                              -> OUT_DIR/online.json
  (``{request name: {"request": ..., "response": ...}}``; the response in the layout Feast's HTTP
  feature server answers ``POST /get-online-features`` with, i.e. ``convert_response_to_dict``)
  and OUT_DIR/online_dict.json (``OnlineResponse.to_dict(include_event_timestamps=True)``)
* OUT_DIR/feast.json: versions, timings, the repository's feature_store.yaml.

Needs the Feast venv (scripts/feast-env.sh). ``--repo DIR`` keeps the repository in DIR instead of
a temporary folder; ``--online-store redis://HOST:PORT`` uses Redis instead of SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")

FEAST_TYPES = None  # filled in by _feast_types()


def _feast_types():
    from feast import types as t

    return {"int32": t.Int32, "int64": t.Int64, "float32": t.Float32, "float64": t.Float64,
            "string": t.String, "bool": t.Bool, "bytes": t.Bytes, "unix_timestamp": t.UnixTimestamp}


def _value_types():
    from feast import ValueType

    return {"int32": ValueType.INT32, "int64": ValueType.INT64, "string": ValueType.STRING,
            "bytes": ValueType.BYTES}


def parse_time(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def write_repo_config(repo: Path, online_store: str | None) -> str:
    if online_store and online_store.startswith("redis://"):
        hostport, _, db = online_store.removeprefix("redis://").partition("/")
        connection = f"{hostport},db={db}" if db else hostport
        online = f"online_store:\n  type: redis\n  connection_string: \"{connection}\"\n"
    else:
        online = f"online_store:\n  type: sqlite\n  path: {repo / 'online.db'}\n"
    text = (
        "project: galley_reference\n"
        f"registry: {repo / 'registry.db'}\n"
        "provider: local\n"
        f"{online}"
        "offline_store:\n  type: file\n"
        "entity_key_serialization_version: 3\n"
    )
    (repo / "feature_store.yaml").write_text(text)
    return text


def build_objects(dataset: Path, meta: dict):
    """Feast objects equivalent to the dataset's features.yaml (described again in meta.json)."""
    from feast import Entity, FeatureService, FeatureView, Field, FileSource

    dtypes = _feast_types()
    value_types = _value_types()
    entities = {
        name: Entity(name=name, join_keys=[spec["join_key"]], value_type=value_types[spec["dtype"]])
        for name, spec in meta["entities"].items()
    }
    sources = {
        name: FileSource(
            name=name,
            path=str((dataset / spec["path"]).resolve()),
            timestamp_field=spec["timestamp_field"],
            created_timestamp_column=spec["created_timestamp_column"],
        )
        for name, spec in meta["sources"].items()
    }
    views = {}
    for name, spec in meta["views"].items():
        views[name] = FeatureView(
            name=name,
            entities=[entities[e] for e in spec["entities"]],
            ttl=dt.timedelta(seconds=spec["ttl_seconds"]),
            schema=[Field(name=f, dtype=dtypes[t]) for f, t in spec["schema"]],
            source=sources[spec["source"]],
            online=True,
        )
    service_spec = meta["feature_service"]
    by_view: dict[str, list[str]] = {}
    for ref in service_spec["features"]:
        view, feature = ref.split(":")
        by_view.setdefault(view, []).append(feature)
    service = FeatureService(name=service_spec["name"],
                             features=[views[v][features] for v, features in by_view.items()])
    return entities, sources, views, service


def _json_default(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value)} is not JSON serializable")


def _clean_floats(value):
    """NaN in to_dict() output becomes the string "NaN" (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_clean_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean_floats(v) for k, v in value.items()}
    return value


def run(dataset: Path, out: Path, repo: Path, online_store: str | None) -> dict:
    import feast
    import pandas as pd
    from feast import FeatureStore
    from feast.feature_server_utils import convert_response_to_dict

    meta = json.loads((dataset / "meta.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    repo.mkdir(parents=True, exist_ok=True)
    config_text = write_repo_config(repo, online_store)
    timings: dict[str, float] = {}

    began = time.perf_counter()
    store = FeatureStore(repo_path=str(repo))
    entities, sources, views, service = build_objects(dataset, meta)
    store.apply([*entities.values(), *sources.values(), *views.values(), service])
    timings["apply_s"] = time.perf_counter() - began

    entity_df = pd.read_parquet(dataset / "entity_df.parquet")
    refs = meta["all_features"]
    variants = {
        "historical.parquet": dict(features=refs),
        "historical_full_names.parquet": dict(features=refs, full_feature_names=True),
        "historical_created_cutoff.parquet": dict(features=refs, filter_by_created_timestamp=True),
        "historical_service.parquet": dict(features=store.get_feature_service(service.name)),
    }
    for filename, kwargs in variants.items():
        began = time.perf_counter()
        frame = store.get_historical_features(entity_df=entity_df, **kwargs).to_df()
        timings[filename.removesuffix(".parquet") + "_s"] = time.perf_counter() - began
        frame.to_parquet(out / filename, index=False)

    window = meta["materialize"]
    began = time.perf_counter()
    store.materialize(start_date=parse_time(window["start"]), end_date=parse_time(window["end"]))
    timings["materialize_s"] = time.perf_counter() - began

    online, online_dict = {}, {}
    for request in meta["online_requests"]:
        if "feature_service" in request:
            features = store.get_feature_service(request["feature_service"])
        else:
            features = request["features"]
        full = bool(request.get("full_feature_names", False))
        response = store.get_online_features(features=features, entity_rows=request["entities"],
                                             full_feature_names=full)
        body = {k: v for k, v in request.items() if k != "name"}
        online[request["name"]] = {"request": body, "response": convert_response_to_dict(response.proto)}
        online_dict[request["name"]] = _clean_floats(response.to_dict(include_event_timestamps=True))
    (out / "online.json").write_text(json.dumps(online, indent=1, ensure_ascii=False, default=_json_default))
    (out / "online_dict.json").write_text(
        json.dumps(online_dict, indent=1, ensure_ascii=False, default=_json_default))

    info = {
        "feast": feast.__version__,
        "pandas": pd.__version__,
        "python": sys.version.split()[0],
        "online_store": online_store or "sqlite",
        "timings": timings,
        "feature_store_yaml": config_text,
        "materialize": window,
    }
    (out / "feast.json").write_text(json.dumps(info, indent=1))
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--repo", type=Path, help="keep the Feast repository here (default: a temporary folder)")
    ap.add_argument("--online-store", help="redis://HOST:PORT for Redis (default: SQLite in the repository)")
    args = ap.parse_args()
    if args.repo:
        info = run(args.dataset, args.out, args.repo, args.online_store)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="feast-ref-"))
        try:
            info = run(args.dataset, args.out, tmp, args.online_store)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(info["timings"]))


if __name__ == "__main__":
    main()
