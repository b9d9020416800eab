"""Artifacts through the proxied artifact service (mlflow-artifacts:/ URIs)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import uuid
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import pytest
import requests

ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"


def test_run_artifact_uri_is_proxied(client, experiment_id):
    run = client.create_run(experiment_id)
    exp = client.get_experiment(experiment_id)
    # Both are served through the server: the client must not need direct storage access.
    assert exp.artifact_location.startswith("mlflow-artifacts:")
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert run.info.artifact_uri.endswith(f"/{run.info.run_id}/artifacts")


def test_log_artifact_text_dict_and_download(client, experiment_id, tmp_path):
    run_id = client.create_run(experiment_id).info.run_id
    f = tmp_path / "data.csv"
    f.write_text("a,b\n1,2\n")
    client.log_artifact(run_id, str(f))
    client.log_artifact(run_id, str(f), artifact_path="deep/er/path")
    client.log_text(run_id, "hello ✓\n", "notes/hello.txt")
    client.log_dict(run_id, {"k": [1, 2, 3]}, "cfg/params.json")

    root = sorted((a.path, a.is_dir) for a in client.list_artifacts(run_id))
    assert root == [("cfg", True), ("data.csv", False), ("deep", True), ("notes", True)]
    deep = client.list_artifacts(run_id, "deep/er/path")
    assert [(a.path, a.file_size) for a in deep] == [("deep/er/path/data.csv", f.stat().st_size)]

    # Listing a file or a path that does not exist gives nothing.
    assert client.list_artifacts(run_id, "data.csv") == []
    assert client.list_artifacts(run_id, "no/such/dir") == []

    txt = mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt")
    assert txt == "hello ✓\n"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/cfg/params.json") == {"k": [1, 2, 3]}

    dst = tmp_path / "all"
    dst.mkdir()
    local = Path(client.download_artifacts(run_id, "", dst_path=str(dst)))
    assert (local / "data.csv").read_text() == "a,b\n1,2\n"
    assert (local / "deep" / "er" / "path" / "data.csv").read_text() == "a,b\n1,2\n"
    assert (local / "notes" / "hello.txt").read_text(encoding="utf-8") == "hello ✓\n"


def test_binary_artifact_round_trip(client, experiment_id, tmp_path):
    run_id = client.create_run(experiment_id).info.run_id
    payload = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "blob.bin"
    src.write_bytes(payload)
    client.log_artifact(run_id, str(src), artifact_path="bin")
    [info] = client.list_artifacts(run_id, "bin")
    assert info.file_size == len(payload)
    out = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="bin/blob.bin", dst_path=str(tmp_path / "o"))
    assert hashlib.sha256(Path(out).read_bytes()).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_file_names_with_spaces_and_unicode(client, experiment_id, tmp_path):
    run_id = client.create_run(experiment_id).info.run_id
    d = tmp_path / "odd"
    d.mkdir()
    (d / "with space.txt").write_text("s")
    (d / "ümlaut-✓.txt").write_text("u")
    # (No "%" in names: the client puts artifact paths into the URL without
    # percent-encoding them, so MLflow itself stores "a%20b" as "a b".)
    client.log_artifacts(run_id, str(d), artifact_path="odd names")
    listed = sorted(a.path for a in client.list_artifacts(run_id, "odd names"))
    assert listed == sorted(f"odd names/{n}" for n in ("with space.txt", "ümlaut-✓.txt"))
    out = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="odd names", dst_path=str(tmp_path / "o")))
    assert (out / "with space.txt").read_text() == "s"
    assert (out / "ümlaut-✓.txt").read_text() == "u"


def test_raw_artifact_api(tracking_uri, client, experiment_id):
    """What the client sends under the hood: PUT/GET on the path, GET ?path= to list."""
    run = client.create_run(experiment_id)
    rel = urlparse(run.info.artifact_uri).path.lstrip("/")  # "<exp>/<run>/artifacts"
    base = tracking_uri.rstrip("/") + ARTIFACTS_API
    r = requests.put(f"{base}/{rel}/raw/x.txt", data=b"raw bytes", timeout=30)
    assert r.status_code == 200, r.text
    r = requests.get(f"{base}/{rel}/raw/x.txt", timeout=30)
    assert r.status_code == 200 and r.content == b"raw bytes"

    listing = requests.get(base, params={"path": f"{rel}/raw"}, timeout=30)
    assert listing.status_code == 200
    # paths in the listing are relative to the listed directory
    assert listing.json()["files"] == [{"path": "x.txt", "is_dir": False, "file_size": 9}]

    # Nothing there: 200 with no "files" (an empty JSON object from MLflow).
    empty = requests.get(base, params={"path": f"{rel}/nothing-here"}, timeout=30)
    assert empty.status_code == 200
    assert empty.json().get("files", []) == []

    missing = requests.get(f"{base}/{rel}/raw/missing.txt", timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    assert client.list_artifacts(run.info.run_id, "raw")[0].path == "raw/x.txt"


def _raw_put(tracking_uri: str, raw_path: str, body: bytes) -> int:
    """PUT with the path sent byte for byte (requests/urllib3 would normalise '..')."""
    u = urlparse(tracking_uri)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("PUT", raw_path, body=body, headers={"Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _root_listing(tracking_uri: str) -> set[str]:
    r = requests.get(tracking_uri.rstrip("/") + ARTIFACTS_API, timeout=30)
    assert r.status_code == 200, r.text
    return {f["path"] for f in r.json().get("files", [])}


@pytest.mark.parametrize(
    "template",
    [
        ARTIFACTS_API + "/../../etc/{name}",
        ARTIFACTS_API + "/%2e%2e/%2e%2e/etc/{name}",
        ARTIFACTS_API + "/%2E%2E/{name}",
        ARTIFACTS_API + "/sub/../../{name}",
        ARTIFACTS_API + "/sub/%2e%2e/{name}",  # would land inside the root if normalised
        ARTIFACTS_API + "/..%2f..%2f{name}",
        ARTIFACTS_API + "/%2Fetc%2F{name}",
    ],
)
def test_path_traversal_rejected(tracking_uri, server, template):
    name = f"galley-traversal-{uuid.uuid4().hex[:10]}"
    before = _root_listing(tracking_uri)
    status = _raw_put(tracking_uri, template.format(name=name), b"pwned")
    assert 400 <= status < 500, f"expected a 4xx for {template}, got {status}"
    after = _root_listing(tracking_uri)
    assert not {p for p in after - before if name in p}
    assert name not in after
    if server.data_dir is not None:
        # We started the server: nothing with that name anywhere near its data dir.
        hits = [p for p in server.data_dir.parent.parent.rglob(f"*{name}*")]
        assert hits == []
