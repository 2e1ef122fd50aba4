"""Fault names, which calls they apply to, and how a call picks one up from its text."""

from __future__ import annotations

import re

CHAT_FAULTS = frozenset(
    {
        "expired_token",
        "stream_pushing",
        "throttle",
        "throttle_stream",
        "server_error",
        "cut_stream",
        "malformed_frame",
        "error_event",
        "block_exception",
        "slow_chunks",
    }
)
FILE_FAULTS = frozenset({"upload_fail", "parse_fail", "parse_hang"})
REFRESH_FAULTS = frozenset({"refresh_hang"})
ALL_FAULTS = CHAT_FAULTS | FILE_FAULTS | REFRESH_FAULTS

# Faults answered instead of a stream, before any output.
BEFORE_STREAM = frozenset(
    {"expired_token", "stream_pushing", "throttle", "throttle_stream", "server_error"}
)
# Faults that break a stream once it has carried a few deltas.
MID_STREAM = frozenset({"cut_stream", "malformed_frame", "error_event", "block_exception"})
DELTAS_BEFORE_FAULT = 2

OVERLOADED_MESSAGE = "Kimi 现在有点累了，晚一点再来问问我吧！"
INTERNAL_MESSAGE = "服务内部错误"
THROTTLE_MESSAGE = "请求过于频繁，请稍后再试"
STREAM_PUSHING = "chat.user_stream_pushing"
OVERLOADED_REASON = "REASON_COMPLETION_OVERLOADED"
RETRY_AFTER_SECONDS = "3"

_MARKER = re.compile(r"\[\[fault:([a-z0-9_]+)\]\]")


def fault_kind(name: str) -> str | None:
    """``chat`` for completion faults, ``file`` for upload faults, ``refresh`` for token refresh
    faults, ``None`` if unknown."""
    if name in CHAT_FAULTS:
        return "chat"
    if name in FILE_FAULTS:
        return "file"
    if name in REFRESH_FAULTS:
        return "refresh"
    return None


def marker_fault(text: str, kind: str) -> str | None:
    """The first ``[[fault:NAME]]`` in ``text`` naming a fault of ``kind``."""
    for name in _MARKER.findall(text or ""):
        if fault_kind(name) == kind:
            return name
    return None
