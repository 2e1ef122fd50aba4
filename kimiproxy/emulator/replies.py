"""Scripted replies: a prompt and request options become a protocol-neutral list of steps.

Each protocol writer turns the steps into its own frames. The reply depends only on the prompt
and the options, never on ids or time, so tests can predict it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

THINK = "think"
SEARCH = "search"
TEXT = "text"
LENGTH = "length"
# A pause mid-answer: rest writes it as {"event":"done"}, then more cmpl deltas follow.
BREAK = "break"

THINKING_PREFIX = "Thinking about: "
ECHO_PREFIX = "You said: "
CANNED = "The quick brown fox jumps over the lazy dog."
SPLIT_UTF8 = "中文字符和表情😀🎉测试"
LONG_FIRST = "PART-ONE " * 40
LONG_SECOND = "PART-TWO " * 40

_MARKER = re.compile(r"\[\[reply:([a-z0-9-]+)\]\]")
_KNOWN_MARKERS = ("long", "split-utf8", "canned", "empty")
# ``[[say:<base64url>]]``: answer exactly the decoded text (scripts an answer of any shape, such
# as a tool call, without the emulator knowing about it).
_SAY = re.compile(r"\[\[say:([A-Za-z0-9_=-]+)\]\]")


@dataclass(frozen=True)
class SearchResult:
    """One web result, rendered per protocol by its methods."""

    index: int
    title: str
    url: str
    site_name: str
    snippet: str
    date: str

    def get_res(self) -> dict:
        """``rest`` ``search_plus`` message."""
        return {
            "type": "get_res",
            "title": self.title,
            "url": self.url,
            "successNum": self.index,
            "site_name": self.site_name,
            "snippet": self.snippet,
            "date": self.date,
        }

    def ref_card(self) -> dict:
        """``rest`` ``ref_docs`` card."""
        return {
            "idx_s": self.index,
            "idx_z": 0,
            "ref_id": self.index,
            "url": self.url,
            "title": self.title,
            "abstract": self.snippet,
            "source_label": self.site_name,
        }

    def web_page(self) -> dict:
        """``connect`` ``block.search.webPages`` entry."""
        return {
            "title": self.title,
            "url": self.url,
            "siteName": self.site_name,
            "snippet": self.snippet,
            "publishTime": self.date,
        }


@dataclass(frozen=True)
class Step:
    """A thinking delta, an answer delta, a batch of search results, the length cut, or a
    mid-answer break."""

    kind: str
    text: str = ""
    results: tuple[SearchResult, ...] = ()


@dataclass(frozen=True)
class Reply:
    """The whole scripted reply; ``split_utf8`` asks writers to cut characters across writes."""

    steps: tuple[Step, ...]
    title: str
    split_utf8: bool = False

    def segments(self) -> list[tuple[Step, ...]]:
        """The steps before and after each length cut (``rest`` sends one per call)."""
        parts: list[list[Step]] = [[]]
        for step in self.steps:
            if step.kind == LENGTH:
                parts.append([])
            else:
                parts[-1].append(step)
        return [tuple(part) for part in parts]

    @property
    def text(self) -> str:
        return answer_text(self.steps)

    @property
    def thinking(self) -> str:
        return "".join(step.text for step in self.steps if step.kind == THINK)

    @property
    def results(self) -> tuple[SearchResult, ...]:
        return tuple(r for step in self.steps if step.kind == SEARCH for r in step.results)


def answer_text(steps: tuple[Step, ...] | list[Step]) -> str:
    """The answer text carried by ``steps``."""
    return "".join(step.text for step in steps if step.kind == TEXT)


def file_line(name: str, mime: str, size: int, sha256: str) -> str:
    """The line a reply starts with for each file the turn referenced."""
    return f"File {name} ({mime}, {size} bytes, sha256 {sha256[:16]})"


def reply_marker(prompt: str) -> str | None:
    """The first known ``[[reply:NAME]]`` in the prompt."""
    for name in _MARKER.findall(prompt):
        if name in _KNOWN_MARKERS:
            return name
    return None


def said_text(prompt: str) -> str | None:
    """The decoded text of the first valid ``[[say:...]]`` marker in the prompt."""
    for encoded in _SAY.findall(prompt):
        try:
            return base64.urlsafe_b64decode(encoded).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
    return None


def search_results(prompt: str) -> tuple[SearchResult, ...]:
    head = prompt[:20]
    return tuple(
        SearchResult(
            index=n,
            title=f"Result {n} for {head}",
            url=f"https://example.com/search/{n}",
            site_name="example.com",
            snippet=f"Snippet {n} about {head}",
            date=f"2025-01-0{n}",
        )
        for n in (1, 2)
    )


def title_for(prompt: str) -> str:
    """The chat title Kimi would give after the first turn."""
    first_line = prompt.strip().splitlines()[0] if prompt.strip() else ""
    return first_line[:20] or "Untitled Chat"


def _deltas(kind: str, text: str, size: int) -> list[Step]:
    return [Step(kind, text[i : i + size]) for i in range(0, len(text), size)]


def _with_break(deltas: list[Step]) -> list[Step]:
    """``deltas`` with one :data:`BREAK` in the middle (none if there is no middle)."""
    if len(deltas) < 2:
        return deltas
    middle = len(deltas) // 2
    return [*deltas[:middle], Step(BREAK), *deltas[middle:]]


def build_reply(
    prompt: str,
    *,
    search: bool = False,
    thinking: bool = False,
    file_lines: tuple[str, ...] | list[str] = (),
    chunk_size: int = 8,
) -> Reply:
    """The scripted reply for ``prompt`` with the given options."""
    size = max(1, chunk_size)
    steps: list[Step] = []
    if search:
        steps.append(Step(SEARCH, results=search_results(prompt)))
    if thinking:
        steps += _deltas(THINK, THINKING_PREFIX + prompt, size)
    marker = reply_marker(prompt)
    prefix = "".join(line + "\n" for line in file_lines)
    said = said_text(prompt)
    if said is not None:
        steps += _deltas(TEXT, prefix + said, size)
    elif marker == "long":
        steps += _deltas(TEXT, prefix + LONG_FIRST, size)
        steps.append(Step(LENGTH))
        steps += _deltas(TEXT, LONG_SECOND, size)
    elif marker == "canned":
        steps += _deltas(TEXT, prefix + CANNED, size)
    elif marker == "split-utf8":
        steps += _deltas(TEXT, prefix + SPLIT_UTF8, size)
    elif marker != "empty":
        steps += _with_break(_deltas(TEXT, prefix + ECHO_PREFIX + prompt, size))
    return Reply(tuple(steps), title=title_for(prompt), split_utf8=marker == "split-utf8")


def rechunk(frames: list[tuple[bytes, bool]], split_size: int | None) -> list[bytes]:
    """Network writes for ``frames`` (``(bytes, splittable)``).

    With ``split_size``, each run of splittable frames is joined and cut every ``split_size``
    bytes regardless of character boundaries, so multi-byte UTF-8 characters straddle writes.
    """
    if not split_size:
        return [data for data, _ in frames]
    out: list[bytes] = []
    run = b""
    for data, splittable in frames:
        if splittable:
            run += data
            continue
        if run:
            out += [run[i : i + split_size] for i in range(0, len(run), split_size)]
            run = b""
        out.append(data)
    if run:
        out += [run[i : i + split_size] for i in range(0, len(run), split_size)]
    return out
