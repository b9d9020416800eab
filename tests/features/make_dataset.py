"""Writes a small but nasty feature-store dataset: feature sources as Parquet, an entity
dataframe, a Galley definitions file and a description of the cases (meta.json).

    python tests/features/make_dataset.py OUTDIR [--entities N] [--rows-per-view M] [--seed S]
                                                  [--anchor 2024-05-01T00:00:00Z]

Files written to OUTDIR:

* ``driver_stats.parquet``           driver_id int64; conv_rate float64, acc_rate float32, trips int64
* ``customer_profile.parquet``       customer_id string; tier string, lifetime_value float64,
                                     is_vip bool, age int32
* ``driver_customer_stats.parquet``  (driver_id, customer_id) composite key; trips_together int64,
                                     avg_rating float64
  each with ``event_timestamp`` and ``created`` (timestamp[us, tz=UTC]); rows are shuffled so that
  file order never decides a winner.
* ``entity_df.parquet``              driver_id, customer_id, event_timestamp (UTC), label int64
* ``features.yaml``                  the Galley definitions (source paths relative to OUTDIR)
* ``meta.json``                      anchor, views, ttl, the materialization window, the online
                                     requests and what each hand-made case is meant to probe

Every time is relative to ``--anchor`` (A below). Views:

* ``driver_hourly``   (driver_stats, ttl 1d)
* ``customer_profile`` (customer_profile, ttl 12h)
* ``driver_customer`` (driver_customer_stats, keys driver_id + customer_id, ttl 0 = no limit)

Hand-made cases (drivers 1001..1010, customers ``c-*``) sit beside seeded random bulk data
(drivers 2000.., customers ``c0000``..): ties on event_timestamp broken by ``created``, rows
exactly at ``T - ttl`` and at ``T``, rows one second or one microsecond outside, entities without
rows, keys that match only outside the ttl or only in the future, a backfilled row (created long
after its event time), a null feature value in the newest row, duplicate entity rows (identical,
same keys and time with another label, same driver and time with another customer), a row exactly
at the materialization end, and a non-ASCII string key. Only the standard library, numpy, pandas
and pyarrow are used, so it runs in any of the project's venvs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_ANCHOR = "2024-05-01T00:00:00Z"

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
S = dt.timedelta(seconds=1)
US = dt.timedelta(microseconds=1)

VIEWS = {
    "driver_hourly": {
        "source": "driver_stats",
        "entities": ["driver"],
        "join_keys": ["driver_id"],
        "ttl": "1d",
        "ttl_seconds": 86400,
        "schema": [("conv_rate", "float64"), ("acc_rate", "float32"), ("trips", "int64")],
    },
    "customer_profile": {
        "source": "customer_profile",
        "entities": ["customer"],
        "join_keys": ["customer_id"],
        "ttl": "12h",
        "ttl_seconds": 12 * 3600,
        "schema": [("tier", "string"), ("lifetime_value", "float64"), ("is_vip", "bool"), ("age", "int32")],
    },
    "driver_customer": {
        "source": "driver_customer_stats",
        "entities": ["driver", "customer"],
        "join_keys": ["driver_id", "customer_id"],
        "ttl": "0",
        "ttl_seconds": 0,
        "schema": [("trips_together", "int64"), ("avg_rating", "float64")],
    },
}
SOURCES = {
    "driver_stats": "driver_stats.parquet",
    "customer_profile": "customer_profile.parquet",
    "driver_customer_stats": "driver_customer_stats.parquet",
}
ENTITIES = {"driver": ("driver_id", "int64"), "customer": ("customer_id", "string")}
SERVICE = {
    "name": "model_a",
    "features": ["driver_hourly:conv_rate", "driver_hourly:trips", "customer_profile:tier",
                 "customer_profile:lifetime_value", "driver_customer:avg_rating"],
}
ALL_FEATURES = [f"{view}:{name}" for view, spec in VIEWS.items() for name, _ in spec["schema"]]

ARROW_TYPES = {
    "int32": pa.int32(), "int64": pa.int64(), "float32": pa.float32(), "float64": pa.float64(),
    "string": pa.string(), "bool": pa.bool_(),
}
TS = pa.timestamp("us", tz="UTC")


def parse_time(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


class Rows:
    """Column lists for one table, filled row by row."""

    def __init__(self, columns: list[tuple[str, pa.DataType]]):
        self.columns = columns
        self.data: dict[str, list] = {name: [] for name, _ in columns}

    def add(self, **row) -> None:
        missing = set(self.data) - set(row)
        extra = set(row) - set(self.data)
        if extra:
            raise ValueError(f"unknown columns {extra}")
        for name in self.data:
            self.data[name].append(row.get(name) if name not in missing else None)

    def table(self, rng: np.random.Generator | None = None) -> pa.Table:
        n = len(next(iter(self.data.values())))
        order = rng.permutation(n) if rng is not None else np.arange(n)
        return pa.table({name: pa.array([self.data[name][i] for i in order], type=t) for name, t in self.columns})


def source_columns(view: str) -> list[tuple[str, pa.DataType]]:
    spec = VIEWS[view]
    keys = [(k, pa.int64() if k == "driver_id" else pa.string()) for k in spec["join_keys"]]
    features = [(name, ARROW_TYPES[dtype]) for name, dtype in spec["schema"]]
    return keys + [("event_timestamp", TS), ("created", TS)] + features


def build(anchor: dt.datetime, n_entities: int, rows_per_view: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    A = anchor
    driver = Rows(source_columns("driver_hourly"))
    customer = Rows(source_columns("customer_profile"))
    pair = Rows(source_columns("driver_customer"))
    entity = Rows([("driver_id", pa.int64()), ("customer_id", pa.string()), ("event_timestamp", TS),
                   ("label", pa.int64())])
    cases: list[dict] = []

    def case(name: str, what: str, **extra) -> None:
        cases.append({"name": name, "what": what, **extra})

    def d(driver_id, ts, conv, acc, trips, created=None):
        driver.add(driver_id=driver_id, event_timestamp=ts, created=created or ts, conv_rate=conv,
                   acc_rate=acc, trips=trips)

    def c(customer_id, ts, tier, ltv, vip, age, created=None):
        customer.add(customer_id=customer_id, event_timestamp=ts, created=created or ts, tier=tier,
                     lifetime_value=ltv, is_vip=vip, age=age)

    def p(driver_id, customer_id, ts, trips_together, rating, created=None):
        pair.add(driver_id=driver_id, customer_id=customer_id, event_timestamp=ts, created=created or ts,
                 trips_together=trips_together, avg_rating=rating)

    def e(driver_id, customer_id, ts, label):
        entity.add(driver_id=driver_id, customer_id=customer_id, event_timestamp=ts, label=label)

    # A customer and a pair that always match, so that hand-made driver cases are not dropped by
    # Feast because of another view.
    for k in range(70 * 4 + 1):  # every 6h from A-70d to A (ttl 12h)
        c("c-good", A - 70 * D + k * 6 * H, "gold", 100.0 + k, k % 2 == 0, 40)
    p(1001, "c-good", A - 20 * D, 1, 4.5)

    # --- driver_hourly (ttl 1d) -------------------------------------------------------------
    d(1001, A - 30 * H, 0.10, 0.90, 10)
    d(1001, A - 3 * H, 0.20, 0.80, 20)
    d(1001, A - 2 * H, 0.30, 0.70, 30, created=A - 2 * H)
    d(1001, A - 2 * H, 0.31, 0.71, 31, created=A - 2 * H + 60 * S)  # wins the tie (later created)
    e(1001, "c-good", A - 2 * H, 1)
    case("tie_broken_by_created", "driver 1001 at A-2h: two rows at T, the later created wins (conv_rate 0.31)",
         driver_id=1001, event_timestamp=iso(A - 2 * H), expect={"driver_hourly:conv_rate": 0.31})
    e(1001, "c-good", A - 2 * H - S, 0)
    case("one_second_before_tie", "driver 1001 at A-2h-1s: the A-3h row (0.20)",
         driver_id=1001, event_timestamp=iso(A - 2 * H - S), expect={"driver_hourly:conv_rate": 0.20})

    d(1002, A - 2 * D, 0.25, 0.75, 25)
    d(1002, A - 3 * H, 0.26, 0.74, 26)
    e(1002, "c-good", A - 2 * D, 1)
    case("row_at_T", "driver 1002 at A-2d: a row exactly at T matches (upper bound inclusive)",
         driver_id=1002, event_timestamp=iso(A - 2 * D), expect={"driver_hourly:conv_rate": 0.25})
    e(1002, "c-good", A - 1 * D, 0)
    case("row_at_T_minus_ttl", "driver 1002 at A-1d: its only row is exactly at T - ttl (inclusive)",
         driver_id=1002, event_timestamp=iso(A - 1 * D), expect={"driver_hourly:conv_rate": 0.25})
    e(1002, "c-good", A - 1 * D + S, 1)
    case("only_outside_ttl", "driver 1002 at A-1d+1s: the key matches only a row 1s outside the ttl; "
         "Galley keeps the row with nulls, Feast's file store drops it",
         driver_id=1002, event_timestamp=iso(A - 1 * D + S), expect={"driver_hourly:conv_rate": None},
         feast_drops=True)

    e(1003, "c-good", A - 5 * H, 0)
    case("no_rows", "driver 1003 has no feature rows at all: nulls in both",
         driver_id=1003, event_timestamp=iso(A - 5 * H), expect={"driver_hourly:conv_rate": None})

    d(1004, A - 4 * H, 0.40, 0.60, 40)
    d(1004, A, 0.41, 0.59, 41)  # exactly at the materialization end
    e(1004, "c-good", A - 5 * H, 1)
    case("only_future_rows", "driver 1004 at A-5h: the key matches only later rows; Galley: nulls, "
         "Feast drops the row", driver_id=1004, event_timestamp=iso(A - 5 * H),
         expect={"driver_hourly:conv_rate": None}, feast_drops=True)
    e(1004, "c-good", A, 0)
    case("row_at_materialize_end", "driver 1004 has a row exactly at A (the materialization end)",
         driver_id=1004, event_timestamp=iso(A), expect={"driver_hourly:conv_rate": 0.41})

    d(1005, A - 6 * H, 0.50, 0.50, 50)
    d(1005, A - 5 * H, None, 0.55, None)  # newest row: conv_rate and trips null
    e(1005, "c-good", A - 4 * H, 1)
    case("null_in_newest_row", "driver 1005 at A-4h: the newest row has conv_rate null; no fallback "
         "to the older value", driver_id=1005, event_timestamp=iso(A - 4 * H),
         expect={"driver_hourly:conv_rate": None, "driver_hourly:acc_rate": 0.55})

    d(1006, A - 5 * D, 0.60, 0.40, 60)  # online: materialized, but older than the ttl
    e(1006, "c-good", A - 5 * D + 12 * H, 0)
    case("old_value", "driver 1006: its only row is at A-5d (online: older than the ttl)",
         driver_id=1006, event_timestamp=iso(A - 5 * D + 12 * H), expect={"driver_hourly:conv_rate": 0.60})

    d(1007, A - 9 * D, 0.70, 0.30, 70)  # before the materialization start
    e(1007, "c-good", A - 9 * D + H, 1)
    case("before_materialize_start", "driver 1007: its only row is before the materialization start",
         driver_id=1007, event_timestamp=iso(A - 9 * D + H), expect={"driver_hourly:conv_rate": 0.70})

    d(1008, A - 10 * H, 0.80, 0.20, 80, created=A - 10 * H)
    d(1008, A - 9 * H, 0.81, 0.19, 81, created=A - 1 * H)  # backfilled 8h after its event time
    e(1008, "c-good", A - 8 * H, 0)
    case("backfill", "driver 1008 at A-8h: the newest row was created at A-1h; 0.81 by default, "
         "0.80 with the created cutoff", driver_id=1008, event_timestamp=iso(A - 8 * H),
         expect={"driver_hourly:conv_rate": 0.81}, expect_created_cutoff={"driver_hourly:conv_rate": 0.80})

    d(1009, A - 12 * H, 0.90, 0.10, 90)
    c("c-dup", A - 12 * H, "silver", 9.0, False, 19)
    c("c-dup2", A - 12 * H, "bronze", 8.0, True, 18)
    for _ in range(2):
        e(1009, "c-dup", A - 11 * H, 1)  # identical rows
    e(1009, "c-dup", A - 11 * H, 0)  # same keys and time, another label
    e(1009, "c-dup2", A - 11 * H, 1)  # same driver and time, another customer
    case("duplicate_entity_rows", "driver 1009 at A-11h: 4 entity rows with the same driver and time "
         "(2 identical, 1 with another label, 1 with another customer); Galley keeps all 4",
         driver_id=1009, event_timestamp=iso(A - 11 * H), expect={"driver_hourly:conv_rate": 0.90}, rows=4)

    t = A - 7 * H + 123456 * US
    d(1010, A - 8 * H, 0.95, 0.05, 95)
    d(1010, t, 0.96, 0.04, 96)
    e(1010, "c-good", t - US, 1)
    case("microsecond_before", "driver 1010 one microsecond before a row: the older row (0.95)",
         driver_id=1010, event_timestamp=iso(t - US), expect={"driver_hourly:conv_rate": 0.95})
    e(1010, "c-good", t, 0)
    case("microsecond_exact", "driver 1010 exactly at a row with microseconds: that row (0.96)",
         driver_id=1010, event_timestamp=iso(t), expect={"driver_hourly:conv_rate": 0.96})

    # --- customer_profile (ttl 12h), string keys -------------------------------------------
    c("c-edge", A - 20 * H, "bronze", 1.0, False, 30)
    c("c-edge", A - 12 * H, "silver", 2.0, False, 31, created=A - 12 * H)
    c("c-edge", A - 12 * H, "gold", 3.0, True, 32, created=A - 12 * H + S)
    e(1001, "c-edge", A, 1)
    case("string_key_tie_at_ttl_edge", "customer c-edge at A: the winning rows sit exactly at T - 12h, "
         "tie broken by created (gold)", customer_id="c-edge", event_timestamp=iso(A),
         expect={"customer_profile:tier": "gold", "customer_profile:age": 32})
    e(1001, "c-none", A - H, 0)
    case("string_key_no_rows", "customer c-none has no rows", customer_id="c-none",
         event_timestamp=iso(A - H), expect={"customer_profile:tier": None})
    c("ç-ü 1", A - H, "platinum", 1e6, True, 77)
    e(1001, "ç-ü 1", A - H + S, 1)
    case("non_ascii_key", "a non-ASCII customer id with a space", customer_id="ç-ü 1",
         event_timestamp=iso(A - H + S), expect={"customer_profile:tier": "platinum"})

    # --- driver_customer (composite key, ttl 0) ---------------------------------------------
    p(1001, "c-edge", A - 60 * D, 3, 4.0)
    p(1002, "c-edge", A - 3 * H, 7, 3.5)
    p(1011, "c-good", A - 60 * D, 5, 4.2)
    e(1011, "c-good", A - 59 * D, 0)
    case("ttl_zero_no_lower_bound", "pair (1011, c-good): a row 59 days older than T still matches (ttl 0)",
         driver_id=1011, customer_id="c-good", event_timestamp=iso(A - 59 * D),
         expect={"driver_customer:trips_together": 5})
    e(1002, "c-good", A - 2 * H, 1)
    case("composite_key_partial_match", "pair (1002, c-good) has no row though both keys appear in "
         "other pairs", driver_id=1002, customer_id="c-good", event_timestamp=iso(A - 2 * H),
         expect={"driver_customer:trips_together": None})

    # --- seeded bulk ------------------------------------------------------------------------
    drivers = [2000 + i for i in range(n_entities)]
    customers = [f"c{i:04d}" for i in range(n_entities)]
    pairs = list({(int(rng.choice(drivers)), str(rng.choice(customers))) for _ in range(max(1, n_entities))})
    pairs.sort()
    span_minutes = 3 * 24 * 60
    tiers = ["bronze", "silver", "gold"]

    def bulk_times(n: int) -> tuple[list, list]:
        # minute granularity so that ties on event_timestamp happen; created differs within a tie
        minutes = rng.integers(0, span_minutes, n)
        lag = rng.integers(0, 3600, n)
        ts = [A - dt.timedelta(minutes=int(m)) for m in minutes]
        return ts, [t + dt.timedelta(seconds=int(s)) for t, s in zip(ts, lag)]

    def unique_rows(keys: list, ts: list, created: list) -> list[int]:
        seen, keep = set(), []
        for i, k in enumerate(zip(keys, ts, created)):
            if k not in seen:
                seen.add(k)
                keep.append(i)
        return keep

    ts, cr = bulk_times(rows_per_view)
    ids = [int(x) for x in rng.choice(drivers, rows_per_view)]
    for i in unique_rows(ids, ts, cr):
        nullify = rng.random() < 0.03
        d(ids[i], ts[i], None if nullify else float(np.round(rng.random(), 6)), float(np.float32(rng.random())),
          int(rng.integers(0, 1000)), created=cr[i])
    ts, cr = bulk_times(rows_per_view)
    ids = [str(x) for x in rng.choice(customers, rows_per_view)]
    for i in unique_rows(ids, ts, cr):
        c(ids[i], ts[i], tiers[int(rng.integers(0, 3))], float(np.round(rng.lognormal(3, 1), 4)),
          bool(rng.random() < 0.2), int(rng.integers(18, 90)), created=cr[i])
    ts, cr = bulk_times(rows_per_view)
    picks = [pairs[int(j)] for j in rng.integers(0, len(pairs), rows_per_view)]
    for i in unique_rows(picks, ts, cr):
        p(picks[i][0], picks[i][1], ts[i], int(rng.integers(0, 50)), float(np.round(rng.uniform(1, 5), 3)),
          created=cr[i])

    n_entity_rows = max(1, rows_per_view // 2)
    for _ in range(n_entity_rows):
        if rng.random() < 0.5:
            drv, cus = pairs[int(rng.integers(0, len(pairs)))]
        else:
            drv, cus = int(rng.choice(drivers)), str(rng.choice(customers))
        t = A - dt.timedelta(minutes=int(rng.integers(0, span_minutes)), seconds=int(rng.integers(0, 60)))
        e(drv, cus, t, int(rng.integers(0, 2)))

    return {
        "tables": {
            "driver_stats": driver.table(rng),
            "customer_profile": customer.table(rng),
            "driver_customer_stats": pair.table(rng),
            "entity_df": entity.table(rng),
        },
        "cases": cases,
        "bulk": {"drivers": drivers, "customers": customers, "pairs": pairs},
    }


def definitions_yaml() -> str:
    lines = ["# Galley feature definitions written by tests/features/make_dataset.py", "entities:"]
    for name, (key, dtype) in ENTITIES.items():
        lines.append(f"  - {{name: {name}, join_keys: [{key}], value_type: {dtype}}}")
    lines.append("sources:")
    for name, path in SOURCES.items():
        lines.append(f"  - {{name: {name}, path: {path}, timestamp_field: event_timestamp, "
                     f"created_timestamp_column: created}}")
    lines.append("feature_views:")
    for name, spec in VIEWS.items():
        ttl = spec["ttl"] if spec["ttl"] != "0" else "0          # no lower bound"
        lines += [
            f"  - name: {name}",
            f"    entities: [{', '.join(spec['entities'])}]",
            f"    source: {spec['source']}",
            f"    ttl: {ttl}",
            "    online: true",
            "    schema:",
        ]
        lines += [f"      - {{name: {f}, dtype: {t}}}" for f, t in spec["schema"]]
    lines.append("feature_services:")
    lines.append(f"  - {{name: {SERVICE['name']}, features: [{', '.join(SERVICE['features'])}]}}")
    return "\n".join(lines) + "\n"


def online_requests(bulk: dict) -> list[dict]:
    """The entity lists both stores are read with after materialize(start, end)."""
    drivers = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010] + bulk["drivers"][:5]
    customers = ["c-edge", "c-none", "ç-ü 1", "c-good"] + bulk["customers"][:5]
    pairs = [(1001, "c-edge"), (1002, "c-edge"), (1002, "c-good"), (1001, "c-good")] + [tuple(x) for x in bulk["pairs"][:5]]
    return [
        {"name": "drivers", "features": [f"driver_hourly:{f}" for f, _ in VIEWS["driver_hourly"]["schema"]],
         "entities": {"driver_id": drivers}},
        {"name": "customers", "features": [f"customer_profile:{f}" for f, _ in VIEWS["customer_profile"]["schema"]],
         "entities": {"customer_id": customers}},
        {"name": "pairs", "features": [f"driver_customer:{f}" for f, _ in VIEWS["driver_customer"]["schema"]],
         "entities": {"driver_id": [a for a, _ in pairs], "customer_id": [b for _, b in pairs]}},
        {"name": "service", "feature_service": SERVICE["name"],
         "entities": {"driver_id": [1001, 1004, 1006, 1003], "customer_id": ["c-edge", "c-good", "c-none", "c-edge"]}},
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--entities", type=int, default=40, help="random entities per key (default 40)")
    ap.add_argument("--rows-per-view", type=int, default=600, help="random feature rows per view (default 600)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--anchor", default=DEFAULT_ANCHOR,
                    help=f"time every row is placed relative to (default {DEFAULT_ANCHOR}); the comparison "
                         "test uses a recent one so that online ttl checks mean something")
    args = ap.parse_args()

    anchor = parse_time(args.anchor)
    out: Path = args.outdir
    out.mkdir(parents=True, exist_ok=True)
    built = build(anchor, args.entities, args.rows_per_view, args.seed)
    for name, table in built["tables"].items():
        pq.write_table(table, out / (SOURCES.get(name, f"{name}.parquet")))
    (out / "features.yaml").write_text(definitions_yaml())
    meta = {
        "anchor": iso(anchor),
        "seed": args.seed,
        "entities": {name: {"join_key": key, "dtype": dtype} for name, (key, dtype) in ENTITIES.items()},
        "sources": {name: {"path": path, "timestamp_field": "event_timestamp", "created_timestamp_column": "created"}
                    for name, path in SOURCES.items()},
        "views": {name: {k: v for k, v in spec.items()} for name, spec in VIEWS.items()},
        "feature_service": SERVICE,
        "all_features": ALL_FEATURES,
        "materialize": {"start": iso(anchor - 7 * D), "end": iso(anchor)},
        "online_requests": online_requests(built["bulk"]),
        "cases": built["cases"],
        "rows": {name: t.num_rows for name, t in built["tables"].items()},
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({"outdir": str(out), "rows": meta["rows"]}))


if __name__ == "__main__":
    main()
