"""``POST /v1/chat/completions``: parse, run the pipeline, serialise."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Blueprint, Response, jsonify

from kimiproxy.api.auth import request_credentials
from kimiproxy.api.json_body import read_json_body
from kimiproxy.api.state import proxy_state
from kimiproxy.chat.core import ChatPipeline
from kimiproxy.chat.usage import usage_for
from kimiproxy.errors import KimiProxyError, UpstreamError
from kimiproxy.wire.openai_chat import DONE, ChunkWriter, completion_body, stream_error
from kimiproxy.wire.openai_chat_request import parse_chat_request

log = logging.getLogger(__name__)
bp = Blueprint("chat", __name__)


@bp.post("/chat/completions")
def chat_completions():
    state = proxy_state()
    credentials = request_credentials(state.config)
    chat_request = parse_chat_request(
        read_json_body(), strip_citations_default=bool(state.config["STRIP_CITATIONS"])
    )
    pipeline = ChatPipeline(
        state.pm, state.config, state.client, chat_request, credentials, state.leases
    )
    pipeline.open()
    log.info(
        "request %s: model=%s stream=%s chat=%s",
        pipeline.context.request_id,
        chat_request.model_name,
        chat_request.stream,
        pipeline.context.chat_id,
    )
    if chat_request.stream:
        response = Response(
            _stream(pipeline),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        # A body the server never started iterating skips the generator's ``finally``.
        response.call_on_close(pipeline.abandon)
        return response
    return jsonify(_complete(pipeline))


def _complete(pipeline: ChatPipeline) -> dict:
    try:
        message = pipeline.collect()
    except KimiProxyError as exc:
        pipeline.finish(exc)
        raise
    except BaseException:
        pipeline.finish(UpstreamError("the answer failed inside the proxy", status=500))
        raise
    pipeline.finish(None)
    usage = usage_for(pipeline.context.prompt, message.text + message.reasoning_content)
    return completion_body(
        pipeline.completion_id,
        pipeline.request.model_name,
        message,
        usage,
        pipeline.response_extras(),
    )


def _stream(pipeline: ChatPipeline) -> Iterator[bytes]:
    """The SSE body. Cleanup runs before the last event, so a client that has read ``[DONE]`` or
    the error event knows the upstream chat is already gone."""
    request_ = pipeline.request
    writer = ChunkWriter(pipeline.completion_id, request_.model_name, request_.include_usage)
    try:
        yield writer.first()
        for delta in pipeline.stream():
            if delta.kind == "reasoning":
                yield writer.reasoning(delta.text)
            else:
                yield writer.content(delta.text)
        message = pipeline.message
        if message.tool_calls:
            yield writer.tool_calls(message.tool_calls)
        yield writer.finish(message.finish_reason, pipeline.response_extras())
        if writer.include_usage:
            completion = message.text + message.reasoning_content
            yield writer.usage(usage_for(pipeline.context.prompt, completion))
        pipeline.finish(None)
    except KimiProxyError as exc:
        log.warning("request %s: failed mid-stream: %s", pipeline.context.request_id, exc.code)
        pipeline.finish(exc)
        yield stream_error(exc)
    except GeneratorExit:
        pipeline.context.client_disconnected = True
        log.info("request %s: client disconnected", pipeline.context.request_id)
        raise
    except Exception:
        log.exception("request %s: unexpected failure mid-stream", pipeline.context.request_id)
        error = UpstreamError(
            "the answer failed inside the proxy", code="internal_error", status=500
        )
        pipeline.finish(error)
        yield stream_error(error)
    finally:
        pipeline.finish(None)  # a disconnect, or any path above that did not finish yet
    yield DONE
