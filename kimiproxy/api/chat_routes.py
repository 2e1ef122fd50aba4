"""``POST /v1/chat/completions``: parse the OpenAI body, run the chat core, serialise."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Blueprint, Response, jsonify, request

from kimiproxy.api.auth import request_credentials
from kimiproxy.api.client_watch import ClientWatch, set_write_timeout
from kimiproxy.api.json_body import read_json_body
from kimiproxy.api.state import proxy_state
from kimiproxy.chat.core import ChatAnswer
from kimiproxy.errors import ClientDisconnected, InternalError, KimiProxyError
from kimiproxy.wire.openai_chat import (
    DONE,
    ChunkWriter,
    completion_body,
    completion_id,
    response_extras,
    stream_error,
)
from kimiproxy.wire.openai_chat_request import parse_chat_request

log = logging.getLogger(__name__)
bp = Blueprint("chat", __name__)
CLIENT_CLOSED_REQUEST = 499  # what the access log shows for a client that left


@bp.post("/chat/completions")
def chat_completions():
    state = proxy_state()
    credentials = request_credentials(state)
    chat_request = parse_chat_request(
        read_json_body(), strip_citations_default=state.settings.strip_citations
    )
    environ = request.environ
    watch = ClientWatch(environ).start()
    try:
        answer = state.core.open(
            chat_request, credentials, chat_request.stream, interruptible=watch.interruptible
        )
        log.info(
            "request %s: model=%s stream=%s chat=%s",
            answer.context.request_id,
            chat_request.model_name,
            chat_request.stream,
            answer.context.chat_id,
        )
        if not chat_request.stream:
            try:
                message = answer.collect()
            finally:
                answer.close()
    except ClientDisconnected:
        watch.stop()
        return Response(status=CLIENT_CLOSED_REQUEST)
    except BaseException:
        watch.stop()
        raise
    if not chat_request.stream:
        watch.stop()
        body = completion_body(
            completion_id(answer),
            chat_request.model_name,
            message,
            answer.usage,
            response_extras(answer),
        )
        return jsonify(body)
    set_write_timeout(environ, state.settings.write_timeout)
    response = Response(
        _stream(answer, watch),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # A body the server never started iterating skips the generator's ``finally``.
    response.call_on_close(answer.close)
    response.call_on_close(watch.stop)
    return response


def _stream(answer: ChatAnswer, watch: ClientWatch) -> Iterator[bytes]:
    """The SSE body. The core has cleaned up before the last event, so a client that has read
    ``[DONE]`` or the error event knows the upstream chat is already gone."""
    request_ = answer.request
    writer = ChunkWriter(completion_id(answer), request_.model_name, request_.include_usage)
    deltas = answer.deltas()
    try:
        yield writer.first()
        for delta in deltas:
            if delta.kind == "reasoning":
                yield writer.reasoning(delta.text)
            else:
                yield writer.content(delta.text)
        message = answer.message
        if message.tool_calls:
            yield writer.tool_calls(message.tool_calls)
        yield writer.finish(message.finish_reason, response_extras(answer))
        if writer.include_usage:
            yield writer.usage(answer.usage)
    except ClientDisconnected:
        return  # nobody left to write to; the core has cleaned up
    except KimiProxyError as exc:
        log.warning("request %s: failed mid-stream: %s", answer.context.request_id, exc.code)
        yield stream_error(exc)
    except Exception:
        log.exception("request %s: writing the stream failed", answer.context.request_id)
        yield stream_error(InternalError())
    finally:
        watch.stop()
        answer.close()  # a client that left before the end
    yield DONE
