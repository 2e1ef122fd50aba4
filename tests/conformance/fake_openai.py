"""A tiny OpenAI-compatible server for the suite's own tests, correct unless told to break.

It answers like kimiproxy in front of the emulator (``You said: <prompt>``, the ``[[reply:...]]``,
``[[say:<base64url>]]`` and ``[[fault:...]]`` markers, thinking for ``*thinking*`` models, tool
calls when tools are offered and the answer is a ``<tool_calls>[...]</tool_calls>`` block), so the
whole suite, emulator scenarios included, can run against it. Each name in ``defects`` breaks one
rule on purpose.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFECTS = {
    "no-done": "the stream ends without data: [DONE]",
    "role-every-chunk": "every delta carries role: assistant",
    "two-finish-reasons": "two chunks carry a finish_reason",
    "changing-ids": "each chunk has its own id",
    "error-code-int": "error objects have an integer code",
    "usage-with-choices": "the usage rides on the finish chunk, which still has its choice",
    "event-lines": "each data line is preceded by an event: line",
    "empty-deltas": "an empty-string content delta in the middle of the stream",
    "no-logprobs": "non-streamed choices lack the required logprobs field",
    "plain-text-errors": "errors are plain text, not OpenAI error objects",
    "unknown-model-400": "an unknown model id gets 400 instead of 404",
    "string-created": "non-streamed answers carry `created` as a string",
    "no-retry-header": "5xx answers say x-should-retry: false",
    "stream-drops-text": "the stream leaves out the last piece of the answer",
    "tools-not-checked": "a `tools` field that is not an array is accepted",
    "tool-call-no-index": "streamed tool-call fragments carry no index",
    "tool-call-no-id": "tool calls have no id",
    "tool-call-object-arguments": "tool-call arguments are a JSON object, not a string",
    "tool-call-bad-json": "tool-call arguments are cut short: not JSON",
    "tool-call-repeats-id": "every streamed tool-call fragment repeats the id and the name",
    "tool-call-finish-stop": "an answer with tool calls finishes with stop",
    "stream-tool-args-differ": "streamed tool calls have other arguments than non-streamed ones",
}
MODELS = ["kimi", "kimi-search", "kimi-thinking"]
ROLES = {"system", "user", "assistant", "tool", "developer"}
CANNED = "The quick brown fox jumps over the lazy dog."
SPLIT_UTF8 = "中文字符和表情😀🎉测试"
LONG = "PART-ONE " * 40 + "PART-TWO " * 40
SAY = re.compile(r"\[\[say:([A-Za-z0-9_=-]+)\]\]")
TOOL_BLOCK = re.compile(r"^\s*<tool_calls>(.*)</tool_calls>\s*$", re.S)


class BadRequest(Exception):
    def __init__(self, status: int, message: str, error_type: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.error_type = status, message, error_type


def _prompt(messages: list) -> str:
    texts = []
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, list):
            content = "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
        texts.append(content)
    return "\n".join(texts)


def _validate(body: object) -> dict:
    if not isinstance(body, dict):
        raise BadRequest(400, "the body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest(400, "'messages' must be a non-empty array")
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise BadRequest(400, f"invalid role in {message!r}")
        content = message.get("content")
        if not isinstance(content, (str, list)) and not (
            content is None and message["role"] == "assistant" and message.get("tool_calls")
        ):
            raise BadRequest(400, "message content must be a string or an array of parts")
    n = body.get("n", 1)
    if not isinstance(n, int) or n < 1:
        raise BadRequest(400, f"{n!r} is less than the minimum of 1 - 'n'")
    return body


def _validate_tools(body: dict) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise BadRequest(400, f"{tools!r} is not of type 'array' - 'tools'")
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BadRequest(400, "each tool must be a function with a name - 'tools'")


def _said(prompt: str) -> str | None:
    for encoded in SAY.findall(prompt):
        try:
            return base64.urlsafe_b64decode(encoded).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
    return None


def _tool_calls(text: str, body: dict) -> list[dict] | None:
    """``[{"name", "arguments"}]`` when tools were offered and ``text`` is a tool-call block."""
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    names = {
        t["function"].get("name")
        for t in tools
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    }
    match = TOOL_BLOCK.match(text)
    if not names or not match:
        return None
    try:
        entries = json.loads(match.group(1))
    except ValueError:
        return None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and e.get("name") in names for e in entries
    ):
        return None
    return [{"name": e["name"], "arguments": e.get("arguments", {})} for e in entries] or None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: FakeServer

    def log_message(self, format, *args):  # noqa: A002 - quiet test output
        pass

    # --- plumbing -------------------------------------------------------------------------
    def _send_json(
        self, status: int, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(
        self, status: int, message: str, error_type: str = "invalid_request_error"
    ) -> None:
        if "plain-text-errors" in self.server.defects:
            data = message.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(data)
            return
        code: object = status if "error-code-int" in self.server.defects else error_type
        headers = (
            {"x-should-retry": "false"}
            if status >= 500 and "no-retry-header" in self.server.defects
            else {}
        )
        body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
        self._send_json(status, body, headers)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not token:
            self._send_error(401, "Missing API key", "authentication_error")
            return False
        if token.startswith("invalid"):
            self._send_error(401, "Incorrect API key provided", "authentication_error")
            return False
        return True

    # --- routes -----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        if not self._authorised():
            return
        if self.path == "/v1/models":
            self._send_json(200, {"object": "list", "data": [self._model(m) for m in MODELS]})
        elif self.path.startswith("/v1/models/"):
            name = self.path.removeprefix("/v1/models/")
            if name in MODELS:
                self._send_json(200, self._model(name))
            else:
                status = 400 if "unknown-model-400" in self.server.defects else 404
                self._send_error(status, f"The model '{name}' does not exist")
        else:
            self._send_error(404, "no such route")

    @staticmethod
    def _model(name: str) -> dict:
        return {"id": name, "object": "model", "created": 1700000000, "owned_by": "conformance"}

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/v1/chat/completions":
            self._send_error(404, "no such route")
            return
        if not self._authorised():
            return
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = _validate(json.loads(raw))
            if "tools-not-checked" not in self.server.defects:
                _validate_tools(body)
        except ValueError:
            self._send_error(400, "We could not parse the JSON body of your request.")
            return
        except BadRequest as exc:
            self._send_error(exc.status, exc.message, exc.error_type)
            return
        self.server.calls.append(body)
        try:
            if body.get("stream"):
                self._stream(body)
            else:
                self._complete(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # --- answers ----------------------------------------------------------------------------
    def _plan(self, body: dict) -> tuple[str, str | None, bool, bool]:
        prompt = _prompt(body["messages"])
        text = f"You said: {prompt}"
        said = _said(prompt)
        if said is not None:
            text = said
        elif "[[reply:canned]]" in prompt:
            text = CANNED
        elif "[[reply:long]]" in prompt:
            text = LONG
        elif "[[reply:split-utf8]]" in prompt:
            text = SPLIT_UTF8
        reasoning = f"Thinking about: {prompt}" if "thinking" in str(body.get("model")) else None
        return text, reasoning, "[[fault:error_event]]" in prompt, "[[fault:slow_chunks]]" in prompt

    def _complete(self, body: dict) -> None:
        text, reasoning, fails, slow = self._plan(body)
        if slow:
            time.sleep(0.5 * (len(text) // 8 + 1))
        if fails:
            self._send_error(502, "Kimi is tired, ask again later", "upstream_error")
            return
        message = {"role": "assistant", "content": text, "refusal": None}
        if reasoning:
            message["reasoning_content"] = reasoning
        finish = "stop"
        calls = _tool_calls(text, body)
        if calls:
            message["content"] = None
            message["tool_calls"] = [self._tool_call(n, c) for n, c in enumerate(calls)]
            finish = "stop" if "tool-call-finish-stop" in self.server.defects else "tool_calls"
        choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
        if "no-logprobs" in self.server.defects:
            del choice["logprobs"]
        created: object = "yesterday" if "string-created" in self.server.defects else 1700000000
        self._send_json(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": created,
            "model": body.get("model", "kimi"), "choices": [choice],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
            "conversation_id": "fake-conversation",
        })  # fmt: skip

    def _arguments(self, arguments: object, *, stream: bool = False) -> object:
        defects = self.server.defects
        if stream and "stream-tool-args-differ" in defects and isinstance(arguments, dict):
            arguments = {key: "Lyon" for key in arguments}
        if "tool-call-object-arguments" in defects:
            return arguments
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return text[:-1] if "tool-call-bad-json" in defects else text

    def _tool_call(self, number: int, call: dict) -> dict:
        out = {
            "id": f"call_fake_{number}",
            "type": "function",
            "function": {"name": call["name"], "arguments": self._arguments(call["arguments"])},
        }
        if "tool-call-no-id" in self.server.defects:
            del out["id"]
        return out

    def _tool_call_fragments(self, number: int, call: dict) -> list[dict]:
        """The fragments of one streamed call, as OpenAI sends them: id, type and name first
        with empty arguments, then the arguments in pieces."""
        defects = self.server.defects
        arguments = self._arguments(call["arguments"], stream=True)
        first: dict = {
            "index": number,
            "id": f"call_fake_{number}",
            "type": "function",
            "function": {"name": call["name"], "arguments": ""},
        }
        if "tool-call-no-id" in defects:
            del first["id"]
        if not isinstance(arguments, str):
            first["function"]["arguments"] = arguments
            pieces: list[str] = []
        else:
            pieces = [arguments[i : i + 5] for i in range(0, len(arguments), 5)]
        fragments = [first]
        for piece in pieces:
            fragment: dict = {"index": number, "function": {"arguments": piece}}
            if "tool-call-repeats-id" in defects:
                fragment["id"] = first.get("id")
                fragment["function"]["name"] = call["name"]
            fragments.append(fragment)
        if "tool-call-no-index" in defects:
            for fragment in fragments:
                del fragment["index"]
        return fragments

    def _stream(self, body: dict) -> None:
        text, reasoning, fails, slow = self._plan(body)
        defects = self.server.defects
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        counter = iter(range(1000))

        def chunk(delta: dict, finish: str | None = None, **extra) -> dict:
            number = next(counter)
            if "role-every-chunk" in defects:
                delta = {"role": "assistant", **delta}
            return {
                "id": f"chatcmpl-fake-{number}" if "changing-ids" in defects else "chatcmpl-fake",
                "object": "chat.completion.chunk", "created": 1700000000,
                "model": body.get("model", "kimi"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }  # fmt: skip

        def send(payload: object) -> None:
            line = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            prefix = "event: message\n" if "event-lines" in defects else ""
            self.wfile.write(f"{prefix}data: {line}\n\n".encode())
            self.wfile.flush()
            if slow:
                time.sleep(0.5)

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        usage = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
        calls = _tool_calls(text, body)
        if calls:
            fragments = [f for n, c in enumerate(calls) for f in self._tool_call_fragments(n, c)]
            send(chunk({"role": "assistant", "content": None, "tool_calls": fragments[:1]}))
            for fragment in fragments[1:]:
                send(chunk({"tool_calls": [fragment]}))
            finish = "stop" if "tool-call-finish-stop" in defects else "tool_calls"
            send(chunk({}, finish))
            if include_usage:
                send(dict(chunk({}), choices=[], usage=usage))
            send("[DONE]")
            return
        send(chunk({"role": "assistant", "content": ""}))
        if reasoning:
            for start in range(0, len(reasoning), 8):
                send(chunk({"reasoning_content": reasoning[start : start + 8]}))
        pieces = [text[i : i + 8] for i in range(0, len(text), 8)]
        if "stream-drops-text" in defects and len(pieces) > 1:
            pieces.pop()
        for number, piece in enumerate(pieces):
            if fails and number == 2:
                send(
                    {
                        "error": {
                            "message": "Kimi is tired, ask again later",
                            "type": "upstream_error",
                            "param": None,
                            "code": 500 if "error-code-int" in defects else "upstream_error",
                        }
                    }
                )
                send("[DONE]")
                return
            if "empty-deltas" in defects and number == 1:
                send(chunk({"content": ""}))
            last = number == len(pieces) - 1
            finish = "stop" if last and "two-finish-reasons" in defects else None
            send(chunk({"content": piece}, finish))
        extra = {"usage": usage} if include_usage and "usage-with-choices" in defects else {}
        send(chunk({}, "stop", **extra))
        if include_usage and "usage-with-choices" not in defects:
            usage_chunk = chunk({})
            usage_chunk["choices"] = []
            usage_chunk["usage"] = usage
            send(usage_chunk)
        if "no-done" not in defects:
            send("[DONE]")


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, defects: set[str]):
        super().__init__(("127.0.0.1", 0), Handler)
        unknown = set(defects) - set(DEFECTS)
        if unknown:
            raise ValueError(f"unknown defects {unknown}")
        self.defects = set(defects)
        self.calls: list[dict] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def serve(*defects: str) -> Iterator[FakeServer]:
    """Run a fake server on a free loopback port for the duration of the block."""
    server = FakeServer(set(defects))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
