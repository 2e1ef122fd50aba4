"""The ``rest`` file upload (``docs/kimi-protocol.md``, "Files and images"): pre-sign, PUT the bytes
to object storage, wait until Kimi takes the file, then until it has parsed it, all of it within
``FILE_PARSE_TIMEOUT``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import requests
import sseclient

from kimiproxy.errors import UpstreamError, UpstreamTimeout
from kimiproxy.upstream.events import UploadedFile
from kimiproxy.upstream.failures import map_failure
from kimiproxy.upstream.rest.api import RestApi
from kimiproxy.upstream.rest.bodies import refs_file_entry
from kimiproxy.upstream.sessions import make_session
from kimiproxy.upstream.streams import ResponseChunks
from kimiproxy.upstream.upload_bodies import FileSlice

PARSE_PROCESS_TIMEOUT_MS = 120000
FILE_READY = ("initialized", "parsed")


class _ParseDeadline:
    """The time one upload has, shared by every call it makes."""

    def __init__(self, name: str, seconds: float, timeout: tuple[float, float]):
        self._name = name
        self._seconds = seconds
        self._timeout = timeout
        self.at = time.monotonic() + seconds

    def request_timeout(self) -> tuple[float, float]:
        """``(connect, read)`` for the next call, the read cut to the time left; raises
        :meth:`missed` once there is none."""
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise self.missed()
        return self._timeout[0], min(self._timeout[1], remaining)

    @contextmanager
    def timeouts_count_as_missed(self) -> Iterator[None]:
        """Whatever times out inside was waiting on the parse, so report the deadline."""
        try:
            yield
        except UpstreamTimeout:
            raise self.missed() from None

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.at - time.monotonic())))

    def missed(self) -> UpstreamTimeout:
        return UpstreamTimeout(f"Kimi did not finish parsing {self._name} in {self._seconds:g} s")


class RestUploads:
    """Uploads for :class:`~kimiproxy.upstream.rest.client.RestClient`."""

    def __init__(self, api: RestApi, timeout: tuple[float, float], parse_timeout: float):
        self._api = api
        self._timeout = timeout
        self._parse_timeout = parse_timeout
        # Pre-signed upload URLs point at object storage, not Kimi: that session carries no Kimi
        # headers, so the token can never leak to a third-party host.
        self._storage = make_session()

    def upload(
        self,
        credential: str,
        name: str,
        mime_type: str,
        body: BinaryIO,
        size: int,
        kind: str,
        chat_id: str | None = None,
        *,
        poll_interval: float = 1.0,
    ) -> UploadedFile:
        """See :meth:`~kimiproxy.upstream.base.UpstreamClient.upload_file`; ``poll_interval``
        is the pause between ``POST /api/file`` polls."""
        deadline = _ParseDeadline(name, self._parse_timeout, self._timeout)
        signed = self._api.json(
            credential, "POST", "/api/pre-sign-url", json={"action": kind, "name": name}
        )
        url = signed.get("url") if isinstance(signed, dict) else None
        if not isinstance(url, str) or not url:
            raise UpstreamError(f'Kimi gave no upload address for "{name}"')
        self._put_object(url, name, mime_type, FileSlice(body, size))
        taken = _file_request(name, kind, signed, chat_id)
        file_object = self._wait_until_taken(credential, name, taken, deadline, poll_interval)
        if file_object.get("status") != "parsed":
            self._wait_until_parsed(credential, name, file_object["id"], deadline)
        return UploadedFile(
            id=str(file_object["id"]),
            name=name,
            size=size,
            mime_type=mime_type,
            kind=kind,
            details=refs_file_entry(file_object),
        )

    def close(self) -> None:
        self._storage.close()

    def _put_object(self, url: str, name: str, mime_type: str, content: FileSlice) -> None:
        try:
            response = self._storage.put(
                url,
                data=content,
                headers={"Content-Type": mime_type or "application/octet-stream"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise map_failure(exception=exc, read_timeout=self._timeout[1]) from None
        with response:
            if response.status_code >= 400:
                raise UpstreamError(
                    f'Kimi\'s file storage refused "{name}" (HTTP {response.status_code})'
                )

    def _wait_until_taken(
        self,
        credential: str,
        name: str,
        request: dict,
        deadline: _ParseDeadline,
        poll_interval: float,
    ) -> dict:
        while True:
            with deadline.timeouts_count_as_missed():
                answer = self._api.json(
                    credential,
                    "POST",
                    "/api/file",
                    json=request,
                    timeout=deadline.request_timeout(),
                )
            if not isinstance(answer, dict) or not answer.get("id"):
                raise UpstreamError(f'Kimi did not describe the uploaded file "{name}"')
            status = answer.get("status")
            if status in FILE_READY:
                return answer
            if status == "failed":
                raise UpstreamError(f'Kimi could not process the file "{name}"')
            deadline.sleep(poll_interval)

    def _wait_until_parsed(
        self, credential: str, name: str, file_id: str, deadline: _ParseDeadline
    ) -> None:
        with deadline.timeouts_count_as_missed():
            response = self._api.send(
                credential,
                "POST",
                "/api/file/parse_process",
                json={"ids": [file_id], "timeout": PARSE_PROCESS_TIMEOUT_MS},
                stream=True,
                timeout=deadline.request_timeout(),
            )
            try:
                verdict = _parse_verdict(response, deadline.at)
            except UnicodeDecodeError:
                raise UpstreamError(f'Kimi sent a malformed parse status for "{name}"') from None
            finally:
                response.close()
        if verdict == "failed":
            raise UpstreamError(f'Kimi could not parse the file "{name}"')
        # Like kimi-free-api, a parse stream that ends without a verdict counts as done.


def _file_request(name: str, kind: str, signed: dict, chat_id: str | None) -> dict:
    """``POST /api/file``: an image names its pre-signed file id, a file its object name."""
    if kind == "image":
        return {"type": "image", "file_id": signed.get("file_id"), "name": name}
    return {
        "type": "file",
        "name": name,
        "object_name": signed.get("object_name"),
        "file_id": "",
        "chat_id": chat_id or "",
    }


def _parse_verdict(response: requests.Response, deadline: float) -> str | None:
    """``"parsed"`` or ``"failed"`` from the parse_process stream; ``None`` if it ends first.

    The deadline is checked between network reads, so keep-alives cannot stretch the wait."""
    source = sseclient.SSEClient(ResponseChunks(response, deadline=deadline))
    for message in source.events():
        try:
            data = json.loads(message.data)
        except ValueError:
            continue
        info = data.get("file_info") if isinstance(data, dict) else None
        status = info.get("status") if isinstance(info, dict) else None
        if status in ("parsed", "failed"):
            return status
    return None
