"""The documented point-in-time semantics, written plainly (one entity row at a time), and the
helpers the comparison tests use to line up training sets from different stores.

Semantics (shared/reference/features.md): per feature view, for an entity row with keys K and
time T the candidates are the view's rows with keys K and ``T - ttl <= ts <= T`` (both inclusive;
ttl 0 means no lower bound); the winner has the largest ``ts``, ties broken by the largest
``created``; no candidate gives nulls; every entity row is kept, in order, with all its columns.
``created_cutoff`` also drops candidates created after T.

Besides the values, ``point_in_time`` answers per row and view what Feast's file offline store
needs to be predicted: whether the keys occur in the source at all, whether any row lies in the
window (Feast drops entity rows whose keys match only outside it), and whether the winner shared
its event time with another candidate (Feast breaks such ties with an unstable sort).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


def load_meta(dataset: Path) -> dict:
    return json.loads((Path(dataset) / "meta.json").read_text())


def to_micros(series: pd.Series) -> np.ndarray:
    """UTC microseconds since the epoch; naive times are taken as UTC."""
    s = pd.to_datetime(series, utc=True)
    return s.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]").astype("int64").to_numpy()


@dataclass
class RowView:
    """What one view found for one entity row."""

    keys_in_source: bool = False
    in_window: int = 0  # candidates in [T - ttl, T]
    winner: int | None = None  # row index in the source frame
    tie_values: list = field(default_factory=list)  # every candidate sharing the winner's event time


@dataclass
class Joined:
    frame: pd.DataFrame  # entity columns + features, entity order
    per_view: dict[str, list[RowView]]

    def feast_drops(self) -> np.ndarray:
        """Rows Feast's file store drops: some view has rows for the keys but none in the window."""
        drop = np.zeros(len(self.frame), dtype=bool)
        for found in self.per_view.values():
            drop |= np.array([f.keys_in_source and f.in_window == 0 for f in found])
        return drop


def point_in_time(entity_df: pd.DataFrame, dataset: Path, meta: dict, refs: list[str],
                  full_feature_names: bool = False, created_cutoff: bool = False,
                  timestamp_column: str = "event_timestamp") -> Joined:
    dataset = Path(dataset)
    by_view: dict[str, list[str]] = {}
    for ref in refs:
        view, feature = ref.split(":")
        by_view.setdefault(view, []).append(feature)
    out = entity_df.copy().reset_index(drop=True)
    t_entity = to_micros(out[timestamp_column])
    per_view: dict[str, list[RowView]] = {}
    for view, features in by_view.items():
        spec = meta["views"][view]
        source = meta["sources"][spec["source"]]
        rows = pd.read_parquet(dataset / source["path"])
        keys = spec["join_keys"]
        ts = to_micros(rows[source["timestamp_field"]])
        created = to_micros(rows[source["created_timestamp_column"]])
        ttl_us = int(spec["ttl_seconds"]) * 1_000_000
        groups: dict[tuple, list[int]] = {}
        for i, key in enumerate(zip(*(rows[k].tolist() for k in keys))):
            groups.setdefault(key, []).append(i)
        found_rows: list[RowView] = []
        winners: list[int | None] = []
        entity_keys = list(zip(*(out[k].tolist() for k in keys)))
        for r, key in enumerate(entity_keys):
            found = RowView()
            candidates = groups.get(key, [])
            found.keys_in_source = bool(candidates)
            t = t_entity[r]
            window = [i for i in candidates if ts[i] <= t and (ttl_us == 0 or ts[i] >= t - ttl_us)]
            found.in_window = len(window)
            if created_cutoff:
                window = [i for i in window if created[i] <= t]
            if window:
                best = max(window, key=lambda i: (ts[i], created[i]))
                found.winner = best
                tied = [i for i in window if ts[i] == ts[best]]
                if len(tied) > 1:
                    found.tie_values = [{f: rows[f].iloc[i] for f in features} for i in tied]
            winners.append(found.winner)
            found_rows.append(found)
        per_view[view] = found_rows
        for f in features:
            column = rows[f]
            values = [None if w is None else column.iloc[w] for w in winners]
            name = f"{view}__{f}" if full_feature_names else f
            out[name] = pd.Series(values, dtype=object)
    return Joined(out, per_view)


# ---------------------------------------------------------------------------------------------
# Lining up frames


def norm(value):
    """A value as plain Python for comparisons: None for every kind of null."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, pd.Timestamp):
        return int(value.tz_convert("UTC").value // 1000) if value.tzinfo else int(value.value // 1000)
    return value


def same(a, b, rel: float = 1e-6) -> bool:
    a, b = norm(a), norm(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b) and not (isinstance(a, str) or isinstance(b, str))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)
    return a == b


def row_keys(frame: pd.DataFrame, key_columns: list[str], timestamp_column: str = "event_timestamp") -> list[tuple]:
    """(key columns..., UTC microseconds) per row; the match key between stores."""
    t = to_micros(frame[timestamp_column])
    cols = [frame[c].map(norm).tolist() for c in key_columns if c != timestamp_column]
    return [tuple(parts) + (int(ti),) for parts, ti in zip(zip(*cols), t)] if cols else [(int(ti),) for ti in t]


def group_rows(frame: pd.DataFrame, key_columns: list[str]) -> dict[tuple, list[int]]:
    groups: dict[tuple, list[int]] = {}
    for i, k in enumerate(row_keys(frame, key_columns)):
        groups.setdefault(k, []).append(i)
    return groups


def describe_row(frame: pd.DataFrame, i: int) -> str:
    return ", ".join(f"{c}={frame[c].iloc[i]!r}" for c in frame.columns)


# ---------------------------------------------------------------------------------------------
# Online


@dataclass
class OnlineValue:
    value: object  # None when not found or null
    found: bool
    event_us: int | None  # the winning row's event time
    tie_values: list = field(default_factory=list)  # values of rows tied with the winner


def materialized(dataset: Path, meta: dict, view: str, start_us: int, end_us: int,
                 end_inclusive: bool) -> dict[tuple, tuple[int, list[int]]]:
    """Per entity key: (winning row, rows tied with it) among rows with start <= ts < end
    (<= end when end_inclusive), newest event time first, ties broken by created."""
    spec = meta["views"][view]
    source = meta["sources"][spec["source"]]
    rows = pd.read_parquet(Path(dataset) / source["path"])
    ts = to_micros(rows[source["timestamp_field"]])
    created = to_micros(rows[source["created_timestamp_column"]])
    best: dict[tuple, int] = {}
    for i, key in enumerate(zip(*(rows[k].map(norm).tolist() for k in spec["join_keys"]))):
        if ts[i] < start_us or ts[i] > end_us or (ts[i] == end_us and not end_inclusive):
            continue
        j = best.get(key)
        if j is None or (ts[i], created[i]) > (ts[j], created[j]):
            best[key] = i
    out = {}
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(zip(*(rows[k].map(norm).tolist() for k in spec["join_keys"]))):
        if key in best and ts[i] == ts[best[key]] and i != best[key] and start_us <= ts[i] and (
                ts[i] < end_us or end_inclusive):
            groups.setdefault(key, []).append(i)
    for key, i in best.items():
        out[key] = (i, groups.get(key, []))
    return out


def online_expected(dataset: Path, meta: dict, features: list[str], entities: dict,
                    start_us: int, end_us: int, end_inclusive: bool) -> dict[str, list[OnlineValue]]:
    """What an online read of `features` ("view:feature") for `entities` should find after one
    materialization of [start, end) (or [start, end]); keyed by the bare feature name."""
    n = len(next(iter(entities.values())))
    out: dict[str, list[OnlineValue]] = {}
    cache: dict[str, tuple[dict, pd.DataFrame, np.ndarray]] = {}
    for ref in features:
        view, feature = ref.split(":")
        if view not in cache:
            spec = meta["views"][view]
            source = meta["sources"][spec["source"]]
            rows = pd.read_parquet(Path(dataset) / source["path"])
            cache[view] = (materialized(dataset, meta, view, start_us, end_us, end_inclusive), rows,
                           to_micros(rows[source["timestamp_field"]]))
        table, rows, ts = cache[view]
        keys = meta["views"][view]["join_keys"]
        column = []
        for r in range(n):
            key = tuple(norm(entities[k][r]) for k in keys)
            hit = table.get(key)
            if hit is None:
                column.append(OnlineValue(None, False, None))
            else:
                i, tied = hit
                column.append(OnlineValue(norm(rows[feature].iloc[i]), True, int(ts[i]),
                                          [norm(rows[feature].iloc[t]) for t in tied]))
        out[feature] = column
    return out


def service_features(meta: dict, name: str) -> list[str]:
    if name != meta["feature_service"]["name"]:
        raise KeyError(name)
    return list(meta["feature_service"]["features"])


def parse_rfc3339_us(text: str) -> int:
    t = pd.Timestamp(text)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return int(t.tz_convert("UTC").value // 1000)
