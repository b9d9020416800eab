"""Endpoints the client (and load balancers) probe before real work."""

from __future__ import annotations

import re

import requests


def test_health(tracking_uri):
    r = requests.get(f"{tracking_uri}/health", timeout=10)
    assert r.status_code == 200


def test_version_is_mlflow_3(tracking_uri):
    r = requests.get(f"{tracking_uri}/version", timeout=10)
    assert r.status_code == 200
    assert re.fullmatch(r"3\.\d+\.\d+\S*", r.text.strip()), r.text


def test_server_info(tracking_uri):
    r = requests.get(f"{tracking_uri}/api/3.0/mlflow/server-info", timeout=10)
    assert r.status_code in (200, 404), r.status_code
    if r.status_code == 200:
        body = r.json()
        assert isinstance(body, dict)
