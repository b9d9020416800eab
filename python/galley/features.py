"""Galley's feature store from Python, shaped like Feast's SDK.

* ``get_historical_features(entity_df, features=[...] | feature_service=NAME)``: a point-in-time
  correct training set. The entity frame is sent as Parquet to
  ``POST /api/v1/features/historical`` and the Parquet answer is read back.
* ``get_online_features(features=[...] | feature_service=NAME, entities={...})``: the newest
  values from the online store, in the shape of Feast's ``OnlineResponse.to_dict()``
  (``get_online_features_response`` answers Galley's JSON with statuses and event times).
* ``push(feature_view, df)``: rows written straight to the online store.

The server is ``url``, else ``$GALLEY_URL``, else ``http://127.0.0.1:5000``. Errors raise
``galley.GalleyError`` carrying Galley's ``error_code`` and ``message``.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from typing import Any, Iterable, Mapping, Sequence

from galley._http import DEFAULT_TIMEOUT_S, GalleyError, raise_for_error, resolve_url, session

PARQUET = "application/vnd.apache.parquet"

__all__ = ["get_historical_features", "get_online_features", "get_online_features_response", "push",
           "GalleyError"]


def _references(features: str | Iterable[str] | None, feature_service: str | None) -> dict[str, str]:
    if (features is None) == (feature_service is None):
        raise ValueError("give either features (['view:feature', ...]) or feature_service, not both or neither")
    if feature_service is not None:
        if not isinstance(feature_service, str) or not feature_service:
            raise ValueError("feature_service must be a non-empty name")
        return {"feature_service": feature_service}
    refs = [features] if isinstance(features, str) else list(features)
    refs = [r.strip() for ref in refs for r in str(ref).split(",") if r.strip()]
    if not refs:
        raise ValueError("features is empty")
    return {"features": ",".join(refs)}


def get_historical_features(entity_df, features: Sequence[str] | str | None = None,
                            feature_service: str | None = None, full_feature_names: bool = False,
                            timestamp_column: str = "event_timestamp", url: str | None = None,
                            created_cutoff: bool = False, timeout: float = DEFAULT_TIMEOUT_S):
    """A training set: every row of ``entity_df`` (a pandas DataFrame with the join keys and
    ``timestamp_column``) with each feature's value as of that row's time.

    ``features``: ``["view:feature", ...]`` (``"view"`` alone for all its features); or
    ``feature_service``: a service's name. ``full_feature_names``: columns named
    ``view__feature``. ``created_cutoff`` (Galley only): ignore feature rows created after the
    entity row's time. Answers a pandas DataFrame."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(entity_df, pd.DataFrame):
        raise TypeError(f"entity_df must be a pandas DataFrame, got {type(entity_df).__name__}")
    if timestamp_column not in entity_df.columns:
        raise ValueError(f"entity_df has no column {timestamp_column!r}")
    params = _references(features, feature_service)
    params["timestamp_column"] = timestamp_column
    if full_feature_names:
        params["full_feature_names"] = "true"
    if created_cutoff:
        params["created_cutoff"] = "true"

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(entity_df, preserve_index=False), buffer)
    response = session().post(
        f"{resolve_url(url)}/api/v1/features/historical",
        params=params,
        data=buffer.getvalue(),
        headers={"Content-Type": PARQUET, "Accept": PARQUET},
        timeout=timeout,
    )
    raise_for_error(response)
    return pq.read_table(io.BytesIO(response.content)).to_pandas()


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy scalars unwrapped, NaN/NaT as null, times as RFC 3339 UTC."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        import pandas as pd

        if value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, pd.Timestamp):
            value = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
            return value.isoformat().replace("+00:00", "Z")
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    return value


def _columns(entities: Mapping[str, Any]) -> dict[str, list]:
    out = {}
    lengths = set()
    for name, values in entities.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"entities[{name!r}] must be a list of values, one per row")
        column = [_plain(v) for v in (values.tolist() if hasattr(values, "tolist") else values)]
        lengths.add(len(column))
        out[str(name)] = column
    if len(lengths) > 1:
        raise ValueError(f"entity columns differ in length: { {k: len(v) for k, v in out.items()} }")
    return out


def get_online_features_response(features: Sequence[str] | None = None, entities: Mapping[str, Any] | None = None,
                                 feature_service: str | None = None, full_feature_names: bool = False,
                                 url: str | None = None, timeout: float = 30.0) -> dict:
    """Galley's answer to ``POST /get-online-features`` as is (Feast's HTTP layout):
    ``{"metadata": {"feature_names": [...]}, "results": [{"values", "statuses", "event_timestamps"}]}``."""
    if entities is None:
        raise ValueError("entities is required, e.g. {'driver_id': [1001, 1002]}")
    body: dict[str, Any] = {"entities": _columns(entities)}
    if (features is None) == (feature_service is None):
        raise ValueError("give either features (['view:feature', ...]) or feature_service, not both or neither")
    if feature_service is not None:
        body["feature_service"] = feature_service
    else:
        body["features"] = [features] if isinstance(features, str) else list(features)
    if full_feature_names:
        body["full_feature_names"] = True
    response = session().post(f"{resolve_url(url)}/get-online-features", json=body, timeout=timeout)
    raise_for_error(response)
    return response.json()


def _seconds(text: str | None) -> int:
    if not text:
        return 0
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp())


def get_online_features(features: Sequence[str] | None = None, entities: Mapping[str, Any] | None = None,
                        feature_service: str | None = None, full_feature_names: bool = False,
                        url: str | None = None, include_event_timestamps: bool = False,
                        timeout: float = 30.0) -> dict[str, list]:
    """Feature values for entity rows, shaped like Feast's ``OnlineResponse.to_dict()``:
    ``{"driver_id": [1001, 1002], "conv_rate": [0.5, None], ...}`` (entity keys first).
    A value that is missing, null or older than its view's ttl is ``None``;
    ``include_event_timestamps`` adds ``NAME__ts`` columns (Unix seconds, 0 when not found),
    as Feast does."""
    answer = get_online_features_response(features, entities, feature_service, full_feature_names, url, timeout)
    names = answer.get("metadata", {}).get("feature_names", [])
    results = answer.get("results", [])
    if len(names) != len(results):
        raise GalleyError("INVALID_RESPONSE", f"{len(names)} feature names but {len(results)} result columns")
    out: dict[str, list] = {}
    for name, column in zip(names, results):
        statuses = column.get("statuses") or []
        values = column.get("values") or []
        out[name] = [None if (i < len(statuses) and statuses[i] == "OUTSIDE_MAX_AGE") else v
                     for i, v in enumerate(values)]
        if include_event_timestamps:
            out[f"{name}__ts"] = [_seconds(t) for t in column.get("event_timestamps") or []]
    return out


def push(feature_view: str, df, url: str | None = None, timeout: float = 60.0) -> dict:
    """Writes the rows of ``df`` (join keys, the view's timestamp column, features) to the
    online store through ``POST /api/v1/features/push``. Answers Galley's reply (how many rows
    were written, how many were older than what the store holds)."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    if not feature_view:
        raise ValueError("feature_view is required")
    columns = {str(name): [_plain(v) for v in df[name].tolist()] for name in df.columns}
    for name in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[name]):
            columns[str(name)] = [_plain(pd.Timestamp(v)) if not pd.isna(v) else None for v in df[name]]
    response = session().post(f"{resolve_url(url)}/api/v1/features/push",
                              json={"feature_view": feature_view, "df": columns}, timeout=timeout)
    raise_for_error(response)
    return response.json()
