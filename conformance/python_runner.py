"""Run a job through the official ``openai`` Python SDK, with strict response validation on.

The result is the plain JSON shape the Node runner prints too (see :func:`run_job`), so both are
judged by the same code. The client's HTTP transport is wrapped to count attempts (retries) and
to drop the ``Authorization`` header for the missing-key scenarios.
"""

from __future__ import annotations

import importlib
import inspect
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from .answers import accumulate_tool_call

MAX_MESSAGE = 2000


def sdk_version() -> str | None:
    """The installed SDK's version, or ``None`` when it is not installed."""
    try:
        import openai
    except ImportError:
        return None
    return openai.__version__


def _http_module():
    """The HTTP library the SDK is built on (``httpx``, or a renamed fork of it)."""
    import openai

    return importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])


def _make_transport(strip_auth: bool):
    http = _http_module()

    class CountingTransport(http.BaseTransport):
        """Counts requests (the SDK's retries included) and can drop the credentials."""

        def __init__(self) -> None:
            self.inner = http.HTTPTransport()
            self.attempts = 0
            self._lock = threading.Lock()

        def handle_request(self, request):
            with self._lock:
                self.attempts += 1
            if strip_auth and "authorization" in request.headers:
                del request.headers["authorization"]
            return self.inner.handle_request(request)

        def close(self) -> None:
            self.inner.close()

    return CountingTransport()


def run_job(job: dict) -> dict:
    """Execute ``job``; returns ``{"attempts", "elapsed", "items": [...]}``.

    Each item is ``{"ok": true, "content", "reasoning", "tool_calls", "finish_reason", "role",
    "chunks", "usage", "model_ids", "extras"}`` (``tool_calls``: ``[{"id", "type", "name",
    "arguments"}]``, joined from the deltas when streaming) or ``{"ok": false, "error":
    {"classes", "status", "message", "body_message"}, "content": <text received before the
    error>}``.
    """
    import openai

    transport = _make_transport(job["auth"] == "missing")
    client = openai.OpenAI(
        api_key=job["api_key"],
        base_url=job["base_url"],
        timeout=job["timeout"],
        max_retries=job["max_retries"],
        http_client=openai.DefaultHttpxClient(transport=transport),
        _strict_response_validation=True,
    )
    started = time.monotonic()
    try:
        if job["concurrency"] == 1:
            items = [_run_one(client, job, 0)]
        else:
            with ThreadPoolExecutor(max_workers=job["concurrency"]) as pool:
                items = list(
                    pool.map(lambda i: _run_one(client, job, i), range(job["concurrency"]))
                )
    finally:
        client.close()
    return {"attempts": transport.attempts, "elapsed": time.monotonic() - started, "items": items}


def _run_one(client, job: dict, index: int) -> dict:
    partial: dict = {"content": ""}
    try:
        if job["operation"] == "models.list":
            page = client.models.list()
            return {"ok": True, "model_ids": [m.id for m in page.data]}
        if job["operation"] == "models.retrieve":
            model = client.models.retrieve(job["model_id"])
            return {"ok": True, "model_ids": [model.id]}
        result = _call_chat(client, job, index)
        if job["stream"]:
            return _read_stream(result, partial)
        return _read_completion(result)
    except Exception as exc:  # every failure is data for the checks, never a crash of the suite
        return {"ok": False, "error": describe_error(exc), "content": partial["content"]}


def _call_chat(client, job: dict, index: int):
    import openai
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    request = dict(job["requests"][index])
    raw = job["raw_bodies"][index]
    if job["call"] == "create" and raw is None:
        known = set(inspect.signature(client.chat.completions.create).parameters)
        extra = {k: request.pop(k) for k in list(request) if k not in known}
        if extra:
            request["extra_body"] = extra
        return client.chat.completions.create(**request)
    kwargs: dict = {
        "cast_to": ChatCompletion,
        "stream": job["stream"],
        "stream_cls": openai.Stream[ChatCompletionChunk],
    }
    if raw is not None:
        kwargs["content"] = raw.encode("utf-8")
        kwargs["options"] = {"headers": {"Content-Type": "application/json"}}
    else:
        kwargs["body"] = request
    return client.post(job["path"], **kwargs)


def _read_stream(stream, partial: dict) -> dict:
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict] = {}
    out: dict = {
        "ok": True,
        "finish_reason": None,
        "role": None,
        "chunks": 0,
        "usage": None,
        "extras": [],
    }
    for chunk in stream:
        out["chunks"] += 1
        if chunk.usage is not None:
            out["usage"] = chunk.usage.model_dump(mode="json")
        out["extras"] = sorted(set(out["extras"]) | set(chunk.model_extra or {}))
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta.content:
                content.append(delta.content)
                partial["content"] = "".join(content)
            thought = (delta.model_extra or {}).get("reasoning_content")
            if isinstance(thought, str):
                reasoning.append(thought)
            for fragment in delta.tool_calls or []:
                accumulate_tool_call(calls, fragment.index, fragment.model_dump(mode="json"))
            if out["role"] is None and delta.role:
                out["role"] = delta.role
            if choice.finish_reason is not None:
                out["finish_reason"] = choice.finish_reason
    out["content"] = "".join(content)
    out["reasoning"] = "".join(reasoning) or None
    out["tool_calls"] = [calls[i] for i in sorted(calls)]
    return out


def _read_completion(completion) -> dict:
    choice = completion.choices[0] if completion.choices else None
    message = choice.message if choice else None
    reasoning = (message.model_extra or {}).get("reasoning_content") if message else None
    return {
        "ok": True,
        "content": message.content if message else None,
        "reasoning": reasoning if isinstance(reasoning, str) and reasoning else None,
        "tool_calls": _message_tool_calls(message),
        "finish_reason": choice.finish_reason if choice else None,
        "role": message.role if message else None,
        "usage": completion.usage.model_dump(mode="json") if completion.usage else None,
        "extras": sorted(completion.model_extra or {}),
    }


def _message_tool_calls(message) -> list[dict]:
    calls = []
    for call in (message.tool_calls if message else None) or []:
        function = getattr(call, "function", None)  # a custom tool call has none
        calls.append(
            {
                "id": call.id,
                "type": call.type,
                "name": getattr(function, "name", None),
                "arguments": getattr(function, "arguments", None),
            }
        )
    return calls


def describe_error(exc: BaseException) -> dict:
    """The exception as data: class names (most specific first), status, messages."""
    classes = [c.__name__ for c in type(exc).__mro__ if c not in (object, BaseException, Exception)]
    body = getattr(exc, "body", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if type(exc).__name__ == "APIResponseValidationError" and exc.__cause__ is not None:
        message = f"{message} {exc.__cause__}"
    if "OpenAIError" not in classes:  # not the SDK's own error: say where it came from
        message = "".join(traceback.format_exception_only(exc)).strip()
    return {
        "classes": classes,
        "status": getattr(exc, "status_code", None),
        "message": str(message)[:MAX_MESSAGE],
        "body_message": body.get("message") if isinstance(body, dict) else None,
    }
