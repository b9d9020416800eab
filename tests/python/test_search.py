"""search_runs: pagination, view types, ordering rules and the filter grammar."""

from __future__ import annotations

import time

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType

N_RUNS = 23


@pytest.fixture(scope="module")
def many_runs(tracking_uri):
    """An experiment with N_RUNS runs with distinct start times, metrics, params, tags."""
    from conftest import unique

    client = mlflow.MlflowClient(tracking_uri)
    exp_id = client.create_experiment(unique("search"))
    base = int(time.time() * 1000) - 10 * 60_000
    runs = []
    for i in range(N_RUNS):
        r = client.create_run(exp_id, start_time=base + i * 1000, run_name=f"r{i:02d}")
        metrics = [Metric("idx", float(i), base, 0)]
        if i % 5 != 0:  # every 5th run lacks the metric "score"
            metrics.append(Metric("score", float((i * 7) % N_RUNS), base, 0))
        client.log_batch(
            r.info.run_id,
            metrics=metrics,
            params=[Param("group", "even" if i % 2 == 0 else "odd"), Param("i", str(i))],
            tags=[RunTag("bucket", str(i % 3))],
        )
        runs.append({"i": i, "run_id": r.info.run_id, "start": base + i * 1000})
    return {"experiment_id": exp_id, "runs": runs, "client": client}


def _ids(runs):
    return [r.info.run_id for r in runs]


def test_default_order_is_start_time_desc(many_runs):
    client, exp = many_runs["client"], many_runs["experiment_id"]
    got = client.search_runs([exp])
    assert _ids(got) == [r["run_id"] for r in sorted(many_runs["runs"], key=lambda r: -r["start"])]


def test_pagination_follows_tokens(many_runs):
    client, exp = many_runs["client"], many_runs["experiment_id"]
    for order in (None, ["metrics.idx ASC"], ["params.i DESC"], ["attributes.start_time ASC"]):
        seen, token, pages = [], None, 0
        while True:
            page = client.search_runs([exp], max_results=5, order_by=order, page_token=token)
            pages += 1
            assert 0 < len(page) <= 5
            seen += _ids(page)
            token = page.token
            if not token:
                break
            assert pages <= N_RUNS
        assert len(seen) == N_RUNS, f"order_by={order}"
        assert len(set(seen)) == N_RUNS, f"duplicates with order_by={order}"
        assert set(seen) == {r["run_id"] for r in many_runs["runs"]}
        assert pages == (N_RUNS + 4) // 5

    # one page holding everything has no next token
    page = client.search_runs([exp], max_results=N_RUNS)
    assert len(page) == N_RUNS


def test_fluent_search_runs_reads_all_pages(many_runs):
    df = mlflow.search_runs([many_runs["experiment_id"]], max_results=N_RUNS)
    assert len(df) == N_RUNS
    assert set(df["run_id"]) == {r["run_id"] for r in many_runs["runs"]}
    assert list(df["tags.mlflow.runName"]) == [f"r{i:02d}" for i in reversed(range(N_RUNS))]


def test_order_by_metric_missing_values_last(many_runs):
    client, exp = many_runs["client"], many_runs["experiment_id"]
    runs = many_runs["runs"]
    with_score = [r for r in runs if r["i"] % 5 != 0]
    without = {r["run_id"] for r in runs if r["i"] % 5 == 0}
    score = {r["run_id"]: (r["i"] * 7) % N_RUNS for r in with_score}

    for direction in ("DESC", "ASC"):
        got = _ids(client.search_runs([exp], order_by=[f"metrics.score {direction}"]))
        head, tail = got[: len(with_score)], got[len(with_score) :]
        assert set(tail) == without, f"runs without the metric come last ({direction})"
        values = [score[rid] for rid in head]
        assert values == sorted(values, reverse=direction == "DESC")


def test_order_by_param_then_metric(many_runs):
    client, exp = many_runs["client"], many_runs["experiment_id"]
    got = client.search_runs([exp], order_by=["params.group ASC", "metrics.idx DESC"])
    idx = [int(r.data.params["i"]) for r in got]
    evens = sorted([i for i in range(N_RUNS) if i % 2 == 0], reverse=True)
    odds = sorted([i for i in range(N_RUNS) if i % 2 == 1], reverse=True)
    assert idx == evens + odds


def test_order_by_attributes(many_runs):
    client, exp = many_runs["client"], many_runs["experiment_id"]
    asc = client.search_runs([exp], order_by=["attributes.start_time ASC"])
    assert [r.info.start_time for r in asc] == sorted(r["start"] for r in many_runs["runs"])
    by_name = client.search_runs([exp], order_by=["attributes.run_name DESC"])
    assert [r.info.run_name for r in by_name] == [f"r{i:02d}" for i in reversed(range(N_RUNS))]


@pytest.mark.parametrize(
    "flt,expected",
    [
        ("metrics.idx >= 20", lambda i: i >= 20),
        ("metrics.idx < 3", lambda i: i < 3),
        ("metrics.idx = 4", lambda i: i == 4),
        ("metrics.idx != 4", lambda i: i != 4),
        ("metrics.idx <= 1.5", lambda i: i <= 1),
        ("params.group = 'even'", lambda i: i % 2 == 0),
        ("params.group != 'even'", lambda i: i % 2 == 1),
        ("params.i LIKE '1%'", lambda i: str(i).startswith("1")),
        ("params.i ILIKE '%2'", lambda i: str(i).endswith("2")),
        ("tags.bucket = '0'", lambda i: i % 3 == 0),
        ("tags.`bucket` = '1'", lambda i: i % 3 == 1),
        ('tags."bucket" = \'2\'', lambda i: i % 3 == 2),
        ("attributes.run_name = 'r07'", lambda i: i == 7),
        ("run_name LIKE 'r1%'", lambda i: 10 <= i <= 19),
        ("tags.mlflow.runName = 'r03'", lambda i: i == 3),
        ("metrics.score > 10 AND params.group = 'odd'", lambda i: i % 5 != 0 and (i * 7) % N_RUNS > 10 and i % 2),
        ("metrics.idx > 5 and metrics.idx < 9 and tags.bucket != '0'", lambda i: 5 < i < 9 and i % 3 != 0),
        ("attributes.status = 'RUNNING'", lambda i: True),
        ("attributes.status != 'RUNNING'", lambda i: False),
    ],
)
def test_filters(many_runs, flt, expected):
    client, exp = many_runs["client"], many_runs["experiment_id"]
    got = set(_ids(client.search_runs([exp], filter_string=flt)))
    assert got == {r["run_id"] for r in many_runs["runs"] if expected(r["i"])}


# (MLflow only accepts IN / NOT IN for attributes.run_id and datasets.*, not for params/tags.)
def test_filter_by_run_id(many_runs):
    client, exp = many_runs["client"], many_runs["experiment_id"]
    ids = [r["run_id"] for r in many_runs["runs"][:3]]
    quoted = ", ".join(f"'{i}'" for i in ids)
    got = client.search_runs([exp], filter_string=f"attributes.run_id IN ({quoted})")
    assert set(_ids(got)) == set(ids)
    got = client.search_runs([exp], filter_string=f"attributes.run_id = '{ids[0]}'")
    assert _ids(got) == [ids[0]]
    got = client.search_runs([exp], filter_string=f"attributes.run_id NOT IN ({quoted})")
    assert set(_ids(got)) == {r["run_id"] for r in many_runs["runs"][3:]}


def test_filter_on_start_time(many_runs):
    client, exp = many_runs["client"], many_runs["experiment_id"]
    cut = many_runs["runs"][10]["start"]
    got = client.search_runs([exp], filter_string=f"attributes.start_time >= {cut}")
    assert set(_ids(got)) == {r["run_id"] for r in many_runs["runs"] if r["start"] >= cut}


def test_run_view_type(tracking_uri, experiment_id, client):
    ids = [client.create_run(experiment_id).info.run_id for _ in range(5)]
    for rid in ids[:2]:
        client.delete_run(rid)
    active = set(_ids(client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY)))
    deleted = set(_ids(client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)))
    both = set(_ids(client.search_runs([experiment_id], run_view_type=ViewType.ALL)))
    assert active == set(ids[2:])
    assert deleted == set(ids[:2])
    assert both == set(ids)
    # default is ACTIVE_ONLY
    assert set(_ids(client.search_runs([experiment_id]))) == active


def test_search_across_experiments(client, uniq):
    a = client.create_experiment(uniq("multi-a"))
    b = client.create_experiment(uniq("multi-b"))
    ra = client.create_run(a).info.run_id
    rb = client.create_run(b).info.run_id
    client.log_metric(ra, "m", 1.0)
    client.log_metric(rb, "m", 2.0)
    got = client.search_runs([a, b], order_by=["metrics.m DESC"])
    assert _ids(got) == [rb, ra]
    assert client.search_runs([a, b], filter_string="metrics.m > 1.5")[0].info.run_id == rb


def test_search_empty_experiment(client, experiment_id):
    page = client.search_runs([experiment_id])
    assert list(page) == []
    assert not page.token
