"""Server-sent events as the wire carries them: split raw bytes into lines and lines into events.

The SDKs hide framing (``event:`` lines, ``[DONE]``, comments); these pure functions keep it so
the invariants can judge it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass
class SseEvent:
    """One event: its joined ``data`` lines, its ``event:`` name if any, and where it started."""

    data: str
    event: str | None = None
    line: int = 0
    raw_lines: list[str] = field(default_factory=list)

    @property
    def raw(self) -> str:
        return "\n".join(self.raw_lines)


@dataclass
class DecodedLines:
    """The body's lines, and the 1-based numbers of lines that were not valid UTF-8."""

    lines: list[str]
    bad_utf8: list[int]


def split_lines(body: bytes) -> DecodedLines:
    """Split a body on CRLF, CR or LF and decode each line as strict UTF-8."""
    parts = _LINE_BREAK.split(body)
    if parts and parts[-1] == b"":
        parts.pop()
    lines: list[str] = []
    bad: list[int] = []
    for number, part in enumerate(parts, start=1):
        try:
            lines.append(part.decode("utf-8"))
        except UnicodeDecodeError:
            bad.append(number)
            lines.append(part.decode("utf-8", errors="replace"))
    return DecodedLines(lines, bad)


def parse_events(lines: list[str]) -> list[SseEvent]:
    """Group lines into events as the SSE specification does (a blank line ends an event).

    Comment lines (``:``) and ``id:``/``retry:`` lines are kept in ``raw_lines`` only. An event
    without any ``data:`` line is dropped, as browsers and the SDKs drop it.
    """
    events: list[SseEvent] = []
    data: list[str] = []
    raw: list[str] = []
    name: str | None = None
    start = 0
    for number, line in enumerate(lines, start=1):
        if line == "":
            if data:
                events.append(SseEvent("\n".join(data), name, start, raw))
            data, raw, name, start = [], [], None, 0
            continue
        raw.append(line)
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if key == "data":
            if not data:
                start = number
            data.append(value)
        elif key == "event":
            name = value
    if data:
        events.append(SseEvent("\n".join(data), name, start, raw))
    return events


def event_lines(lines: list[str]) -> list[tuple[int, str]]:
    """The ``event:`` lines (OpenAI chat streams have none), with their line numbers."""
    return [(n, line) for n, line in enumerate(lines, start=1) if line.startswith("event:")]
