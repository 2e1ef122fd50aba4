"""The ``rest`` answer stream: the Server-Sent Events of one completion request turned into
:mod:`kimiproxy.upstream.events` (``docs/kimi-protocol.md``, "Completion events").

Kimi's ``error`` event during an answer is mapped by the shared table in
:mod:`kimiproxy.upstream.failures`: an overload message ("Kimi 现在有点累了…") becomes
:class:`UpstreamUnavailable` (503, because the fix is to try again later), anything else (e.g. a
content-policy stop) :class:`UpstreamError` (502).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field

import requests
import sseclient

from kimiproxy.errors import KimiProxyError, UpstreamError
from kimiproxy.upstream.events import Event, TextDelta, ThinkingDelta, UpstreamFailed
from kimiproxy.upstream.failures import answer_cut_off, map_failure, scrub
from kimiproxy.upstream.search_results import SearchResults
from kimiproxy.upstream.streams import ResponseChunks

MALFORMED = "Kimi sent a malformed event"


@dataclass
class AnswerProgress:
    """What outlives one completion stream of an answer: the segment id a continuation names, and
    the search results already passed on."""

    segment_id: str | None = None
    search_results: SearchResults = field(default_factory=SearchResults)


def read_segment(
    response: requests.Response,
    progress: AnswerProgress,
    *,
    read_timeout: float | None = None,
    secrets: Iterable[str] = (),
) -> Generator[Event, None, str | None]:
    """Events of one completion stream. Returns ``"stop"`` or ``"length"``, or ``None`` after
    yielding :class:`UpstreamFailed`. ``secrets`` are kept out of quoted error messages; closing
    ``response`` is the caller's job."""
    cut_by_length = False
    source = sseclient.SSEClient(ResponseChunks(response, read_timeout))
    try:
        for message in source.events():
            data = _json_object(message.data)
            if data is None:
                yield UpstreamFailed(UpstreamError(MALFORMED))
                return None
            kind = data.get("event")
            if kind == "all_done":
                return "length" if cut_by_length else "stop"
            if kind == "error":
                yield UpstreamFailed(stream_error(data.get("error"), secrets))
                return None
            if kind == "length":
                cut_by_length = True
            event = _event(kind, data, progress)
            if event is not None:
                yield event
    except UnicodeDecodeError:
        yield UpstreamFailed(UpstreamError(MALFORMED))
        return None
    except KimiProxyError as error:
        yield UpstreamFailed(error)
        return None
    if cut_by_length:
        return "length"
    yield UpstreamFailed(answer_cut_off())
    return None


def stream_error(error: object, secrets: Iterable[str] = ()) -> KimiProxyError:
    """The error for Kimi's ``error`` event (its ``error`` object)."""
    fields = error if isinstance(error, dict) else {}
    message = fields.get("message")
    mapped = map_failure(kind=fields.get("error_type"), message=message, secrets=secrets)
    if type(mapped) is UpstreamError:
        # Not an overload, auth or throttling: Kimi chose to stop (e.g. a content policy).
        said = scrub(str(message or ""), secrets)
        return UpstreamError(f"Kimi stopped the answer{': ' + said if said else ''}")
    return mapped


def _json_object(data: str) -> dict | None:
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _event(kind: object, data: dict, progress: AnswerProgress) -> Event | None:
    """The event one SSE message stands for, if any (noting the segment id on the way)."""
    if kind == "cmpl":
        text = data.get("text")
        return TextDelta(text) if isinstance(text, str) and text else None
    if kind == "k1":
        text = data.get("text") or data.get("content")
        return ThinkingDelta(text) if isinstance(text, str) and text else None
    if kind == "search_plus":
        msg = data.get("msg")
        if not isinstance(msg, dict) or msg.get("type") != "get_res":
            return None
        return progress.search_results.first_sighting(
            msg.get("url"),
            msg.get("title"),
            msg.get("site_name"),
            msg.get("snippet"),
            msg.get("date"),
        )
    if kind == "req":
        progress.segment_id = data.get("id") or progress.segment_id
    # "done" can come mid-answer; resp, debug, rename, ref_docs and the rest carry nothing the
    # caller needs.
    return None
