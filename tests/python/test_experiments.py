"""Experiment CRUD and search through MlflowClient / the fluent API."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.experiment_id == "0"
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    by_name = client.get_experiment_by_name("Default")
    assert by_name is not None and by_name.experiment_id == "0"


def test_create_get_rename_tag(client, uniq):
    name = uniq("exp")
    exp_id = client.create_experiment(name, tags={"owner": "alice", "kind": "test"})
    assert isinstance(exp_id, str) and exp_id != "0"

    exp = client.get_experiment(exp_id)
    assert exp.name == name
    assert exp.experiment_id == exp_id
    assert exp.lifecycle_stage == "active"
    assert exp.tags["owner"] == "alice" and exp.tags["kind"] == "test"
    assert exp.artifact_location  # the client needs it to resolve run artifacts
    assert exp.creation_time and exp.last_update_time and exp.last_update_time >= exp.creation_time

    assert client.get_experiment_by_name(name).experiment_id == exp_id
    assert client.get_experiment_by_name(name + "-missing") is None

    new_name = uniq("renamed")
    client.rename_experiment(exp_id, new_name)
    assert client.get_experiment(exp_id).name == new_name
    assert client.get_experiment_by_name(new_name).experiment_id == exp_id
    assert client.get_experiment_by_name(name) is None

    client.set_experiment_tag(exp_id, "owner", "bob")
    client.set_experiment_tag(exp_id, "new", "v")
    tags = client.get_experiment(exp_id).tags
    assert tags["owner"] == "bob" and tags["new"] == "v" and tags["kind"] == "test"

    client.delete_experiment_tag(exp_id, "new")
    assert "new" not in client.get_experiment(exp_id).tags


def test_fluent_set_experiment_creates_and_reuses(uniq):
    name = uniq("fluent")
    exp = mlflow.set_experiment(name)
    assert exp.name == name
    again = mlflow.set_experiment(name)
    assert again.experiment_id == exp.experiment_id
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == exp.experiment_id
    mlflow.set_experiment(experiment_id="0")


def test_delete_and_restore(client, uniq):
    name = uniq("del")
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)

    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    # get-by-name still finds a deleted experiment
    assert client.get_experiment_by_name(name).lifecycle_stage == "deleted"

    # A deleted experiment still holds its name.
    with pytest.raises(MlflowException) as e:
        client.create_experiment(name)
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


def test_search_experiments_filter_order_and_pages(client, uniq):
    prefix = uniq("abc")
    names = [f"{prefix}-{i:02d}" for i in range(7)]
    ids = {n: client.create_experiment(n, tags={"idx": str(i)}) for i, n in enumerate(names)}

    found = client.search_experiments(filter_string=f"name LIKE '{prefix}%'", order_by=["name ASC"])
    assert [e.name for e in found] == names

    desc = client.search_experiments(filter_string=f"name LIKE '{prefix}%'", order_by=["name DESC"])
    assert [e.name for e in desc] == list(reversed(names))

    by_id = client.search_experiments(filter_string=f"name LIKE '{prefix}%'", order_by=["experiment_id DESC"])
    assert [e.experiment_id for e in by_id] == sorted(ids.values(), key=int, reverse=True)

    by_tag = client.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.idx = '3'")
    assert [e.name for e in by_tag] == [names[3]]

    # pagination: 3 per page -> 3 pages, nothing missing, nothing twice
    seen, token, pages = [], None, 0
    while True:
        page = client.search_experiments(
            filter_string=f"name LIKE '{prefix}%'", order_by=["name ASC"], max_results=3, page_token=token
        )
        pages += 1
        assert len(page) <= 3
        seen += [e.name for e in page]
        token = page.token
        if not token:
            break
        assert pages < 10
    assert pages == 3
    assert seen == names

    # deleted experiments only show up with the right view type
    client.delete_experiment(ids[names[0]])
    client.delete_experiment(ids[names[1]])
    flt = f"name LIKE '{prefix}%'"
    active = client.search_experiments(filter_string=flt, view_type=ViewType.ACTIVE_ONLY, order_by=["name ASC"])
    assert [e.name for e in active] == names[2:]
    deleted = client.search_experiments(filter_string=flt, view_type=ViewType.DELETED_ONLY, order_by=["name ASC"])
    assert [e.name for e in deleted] == names[:2]
    assert all(e.lifecycle_stage == "deleted" for e in deleted)
    everything = client.search_experiments(filter_string=flt, view_type=ViewType.ALL, order_by=["name ASC"])
    assert [e.name for e in everything] == names


def test_search_experiments_ilike_and_fluent(client, uniq):
    prefix = uniq("MiXeD")
    exp_id = client.create_experiment(prefix + "-x")
    got = client.search_experiments(filter_string=f"name ILIKE '{prefix.lower()}%'")
    assert [e.experiment_id for e in got] == [exp_id]
    # LIKE is case sensitive
    assert client.search_experiments(filter_string=f"name LIKE '{prefix.lower()}%'") == []
    fluent = mlflow.search_experiments(filter_string=f"name = '{prefix}-x'")
    assert [e.experiment_id for e in fluent] == [exp_id]
