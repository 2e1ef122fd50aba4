"""``rest`` request bodies: creating a chat, the completion request of a turn, its
continuation after a ``length`` cut, and the ``refs_file`` entry of an uploaded file. See
``docs/kimi-protocol.md``, "Chat lifecycle", "Completion" and "Continuation"."""

from __future__ import annotations

import re
from typing import Any

from kimiproxy.upstream.base import ChatTurn
from kimiproxy.upstream.model_spec import ModelSpec

DEFAULT_KIMIPLUS_ID = "kimi"
K1_KIMIPLUS_ID = "crm40ee9e5jvhsn7ptcg"
NEW_CHAT_NAME = "未命名会话"  # "untitled chat", what the web page names a new chat

# RFC 3986 characters only, so a URL ends at whitespace, CJK text, quotes or angle brackets;
# the lookbehind leaves URLs that are already wrapped alone.
_URL = re.compile(r"""(?<!wc="">)https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+""")
_URL_TRAILING = ".,;:!?'"


def wrap_urls(text: str) -> str:
    """Wrap each URL the way the web page does, so Kimi reads the page behind it."""

    def wrap(match: re.Match) -> str:
        url = match.group(0)
        stripped = url.rstrip(_URL_TRAILING)
        # A closing parenthesis belongs to the URL only if the URL opened one.
        while stripped.endswith(")") and stripped.count(")") > stripped.count("("):
            stripped = stripped[:-1].rstrip(_URL_TRAILING)
        rest = url[len(stripped) :]
        return f'<url id="" type="url" status="" title="" wc="">{stripped}</url>{rest}'

    return _URL.sub(wrap, text)


def kimiplus_id(model: ModelSpec) -> str:
    """An agent id wins; thinking uses the K1 "Kimi+" id; everything else plain ``kimi``."""
    if model.agent_id:
        return model.agent_id
    if model.thinking:
        return K1_KIMIPLUS_ID
    return DEFAULT_KIMIPLUS_ID


def new_chat_body(model: ModelSpec) -> dict:
    """``POST /api/chat`` as the web page sends it for a new, empty chat."""
    return {
        "enter_method": "new_chat",
        "is_example": False,
        "kimiplus_id": kimiplus_id(model),
        "name": NEW_CHAT_NAME,
    }


def refs_file_entry(file_object: dict) -> dict:
    """The ``refs_file`` item the web page sends for an uploaded, parsed file."""
    return {
        "id": file_object.get("id"),
        "name": file_object.get("name"),
        "size": file_object.get("size"),
        "file_info": file_object,
        "detail": file_object,
        "done": True,
        "file": {},
        "parse_status": "success",
        "upload_progress": 100,
        "upload_status": "success",
    }


def completion_body(turn: ChatTurn) -> dict:
    """The first completion request of a turn: ONE user message carrying the whole prompt."""
    model = turn.model
    body: dict[str, Any] = {
        "kimiplus_id": kimiplus_id(model),
        "messages": [{"role": "user", "content": wrap_urls(turn.prompt)}],
        "refs": [f.id for f in turn.files],
        "refs_file": [
            f.details or refs_file_entry({"id": f.id, "name": f.name, "size": f.size})
            for f in turn.files
        ],
        "use_search": model.search,
        "use_research": model.research,
        "use_math": model.math,
        "extend": {"sidebar": True},
    }
    if model.thinking and not model.agent_id:
        body["model"] = "k1"
    return body


def continuation_body(segment_id: str, model: ModelSpec) -> dict:
    """Ask Kimi to go on with an answer its output cap cut (after a ``length`` event)."""
    return {
        "segment_id": segment_id,
        "action": "continue",
        "messages": [{"role": "user", "content": " "}],
        "kimiplus_id": kimiplus_id(model),
        "extend": {"sidebar": True},
    }
