"""The server's address and its errors."""

from __future__ import annotations

import os

import requests

DEFAULT_URL = "http://127.0.0.1:5000"
DEFAULT_TIMEOUT_S = 300.0


def resolve_url(url: str | None = None) -> str:
    """`url`, else $GALLEY_URL, else http://127.0.0.1:5000 (no trailing slash)."""
    chosen = url or os.environ.get("GALLEY_URL", "").strip() or DEFAULT_URL
    return chosen.rstrip("/")


class GalleyError(Exception):
    """An error answered by Galley: its `error_code` (e.g. INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST), `message` and the HTTP `status`."""

    def __init__(self, error_code: str, message: str, status: int | None = None):
        super().__init__(f"{error_code}: {message}" + (f" (HTTP {status})" if status else ""))
        self.error_code = error_code
        self.message = message
        self.status = status


def raise_for_error(response: requests.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error_code" in body:
        raise GalleyError(str(body["error_code"]), str(body.get("message", "")), response.status_code)
    text = response.text[:2000] if response.text else response.reason
    raise GalleyError("HTTP_ERROR", f"{response.request.method} {response.url}: {text}", response.status_code)


_session: requests.Session | None = None


def session() -> requests.Session:
    """One keep-alive session per process."""
    global _session
    if _session is None:
        _session = requests.Session()
    return _session
