"""Search citations in the answer text, as kimi-free-api delivered them: a
``【检索 N】 [title](url)`` line per web result in a stream, and a ``搜索结果来自：`` block after a
non-streamed answer.

They are left out for ``-silent`` models, and stripped when the request (``"strip_citations":
true``) or the settings (``KIMIPROXY_STRIP_CITATIONS``) ask for it. The structured
``search_results`` on the response stay either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimiproxy import hookimpl

if TYPE_CHECKING:
    from kimiproxy.chat.context import AnswerMessage, ChatContext, Delta
    from kimiproxy.upstream.events import SearchResult

BLOCK_HEADER = "\n\n搜索结果来自：\n"


def citation_line(number: int, result: SearchResult) -> str:
    return f"【检索 {number}】 [{result.title}]({result.url})\n"


def _wanted(context: ChatContext) -> bool:
    return not (context.request.strip_citations or context.request.model.silent)


@hookimpl(tryfirst=True)
def kimiproxy_process_delta(delta: Delta, context: ChatContext) -> None:
    """Render a search result's line first, so later plugins see (and may change) the text."""
    if delta.kind == "citation":
        wanted = _wanted(context) and delta.search_result is not None
        delta.text = citation_line(delta.number, delta.search_result) if wanted else ""


@hookimpl(tryfirst=True)
def kimiproxy_process_message(message: AnswerMessage, context: ChatContext) -> None:
    if (
        context.request.stream
        or message.tool_calls
        or not message.search_results
        or not _wanted(context)
    ):
        message.citations = ""
        return
    lines = "".join(citation_line(i, r) for i, r in enumerate(message.search_results, 1))
    message.citations = BLOCK_HEADER + lines.rstrip("\n")
