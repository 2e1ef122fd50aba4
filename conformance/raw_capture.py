"""The suite's own HTTP request beside each SDK call, keeping every byte the SDKs hide.

The SDKs drop ``event:`` lines, stop at ``[DONE]`` without requiring it and coerce types; the
invariants need the wire as it was, so the same job is also sent with ``requests``.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

NOT_JSON = object()


@dataclass
class Exchange:
    """One raw HTTP exchange: status, headers, the whole body, or why it failed."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    elapsed: float = 0.0
    failure: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> object:
        """The body parsed as JSON, or :data:`NOT_JSON`."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return NOT_JSON


def request_for(job: dict, index: int) -> tuple[str, str, dict[str, str], bytes | None]:
    """Method, URL, headers and body for request ``index`` of a job."""
    base = job["base_url"].rstrip("/")
    headers = {"Accept": "application/json"}
    if job["auth"] != "missing":
        headers["Authorization"] = f"Bearer {job['api_key']}"
    if job["operation"] == "models.list":
        return "GET", base + "/models", headers, None
    if job["operation"] == "models.retrieve":
        return "GET", base + "/models/" + quote(job["model_id"], safe=""), headers, None
    headers["Content-Type"] = "application/json"
    if job["stream"]:
        headers["Accept"] = "text/event-stream"
    raw = job["raw_bodies"][index]
    if raw is not None:
        return "POST", base + job["path"], headers, raw.encode("utf-8")
    body = json.dumps(job["requests"][index], ensure_ascii=False).encode("utf-8")
    return "POST", base + job["path"], headers, body


def send(job: dict, index: int = 0, *, timeout: float = 60.0) -> Exchange:
    """Send request ``index`` of ``job`` and read the whole answer (streams to their end)."""
    method, url, headers, body = request_for(job, index)
    started = time.monotonic()
    try:
        with requests.request(
            method, url, headers=headers, data=body, stream=True, timeout=timeout
        ) as resp:
            content = b"".join(resp.iter_content(chunk_size=None))
            result_headers = {k.lower(): v for k, v in resp.headers.items()}
            return Exchange(resp.status_code, result_headers, content, time.monotonic() - started)
    except requests.RequestException as exc:
        return Exchange(elapsed=time.monotonic() - started, failure=f"{type(exc).__name__}: {exc}")


def send_all(job: dict, *, timeout: float = 60.0) -> list[Exchange]:
    """All requests of a job; a job with ``concurrency`` > 1 sends them at the same time."""
    count = job["concurrency"]
    if count == 1:
        return [send(job, 0, timeout=timeout)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda i: send(job, i, timeout=timeout), range(count)))
