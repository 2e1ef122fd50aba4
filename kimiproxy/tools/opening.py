"""Reading the start of an answer, piece by piece, until it is clear whether it opens a tool-call
block: optional whitespace, an optional code fence with a short language tag and more whitespace,
then ``<tool_calls>``.

Every piece is read once, so a stream costs time linear in its length however it is cut up, and
the verdict depends only on the text read, never on where the pieces were cut.
"""

from __future__ import annotations

import re

from kimiproxy.tools.notation import FENCE, MAX_FENCE_LANGUAGE, OPEN

UNDECIDED, BLOCK, TEXT = "undecided", "block", "text"

# Single character classes with nothing after them: sre reads these in one pass, no backtracking.
_SPACE = re.compile(r"\s*")
_LETTERS = re.compile(r"[A-Za-z]*")


class BlockOpening:
    """Tells, as an answer arrives, whether it opens a tool-call block.

    ``feed`` returns the verdict so far: ``UNDECIDED`` while the text read could still be the
    start of a block, ``BLOCK`` once ``<tool_calls>`` was read (``end`` is then the offset just
    after it), ``TEXT`` as soon as it cannot be. A decided verdict never changes.
    """

    def __init__(self) -> None:
        self.verdict = UNDECIDED
        self.end = -1
        self._read = 0  # characters fed before the current piece
        self._phase = self._leading_space
        self._count = 0  # backticks, language letters or tag characters read in this phase

    def feed(self, text: str) -> str:
        at = 0
        while self.verdict == UNDECIDED and at < len(text):
            at = self._phase(text, at)
        self._read += len(text)
        return self.verdict

    # Each phase reads from ``at`` and returns where it stopped; the loop calls the next phase.
    def _leading_space(self, text: str, at: int) -> int:
        at = _SPACE.match(text, at).end()
        if at < len(text):
            if text[at] == "`":
                self._phase, self._count = self._backticks, 1
            elif text[at] == "<":
                self._phase, self._count = self._tag, 1
            else:
                self.verdict = TEXT
            at += 1
        return at

    def _backticks(self, text: str, at: int) -> int:
        if text[at] != "`":
            self.verdict = TEXT
        else:
            self._count += 1
            if self._count == len(FENCE):
                self._phase, self._count = self._language, 0
        return at + 1

    def _language(self, text: str, at: int) -> int:
        limit = min(len(text), at + MAX_FENCE_LANGUAGE + 1 - self._count)
        stop = _LETTERS.match(text, at, limit).end()
        self._count += stop - at
        if self._count > MAX_FENCE_LANGUAGE:
            self.verdict = TEXT
        elif stop < len(text):
            if text[stop] == "<":
                self._phase, self._count = self._tag, 1
                stop += 1
            elif text[stop].isspace():
                self._phase = self._space_after_fence
            else:
                self.verdict = TEXT
        return stop

    def _space_after_fence(self, text: str, at: int) -> int:
        at = _SPACE.match(text, at).end()
        if at < len(text):
            if text[at] == "<":
                self._phase, self._count = self._tag, 1
            else:
                self.verdict = TEXT
            at += 1
        return at

    def _tag(self, text: str, at: int) -> int:
        if text[at] != OPEN[self._count]:
            self.verdict = TEXT
        else:
            self._count += 1
            if self._count == len(OPEN):
                self.verdict, self.end = BLOCK, self._read + at + 1
        return at + 1
