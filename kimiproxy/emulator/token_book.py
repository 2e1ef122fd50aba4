"""Every token the emulator issued or was shown, kept so that tests can check that no log line
of theirs carries one.

Unlike everything else the emulator remembers, the book survives ``POST /_emulator/reset``: a
test run resets the emulator between tests and still wants every token of the whole run. It is
read only through ``GET /_emulator/tokens``; the call record never shows a token.
"""

from __future__ import annotations

import threading


class TokenBook:
    """A set of tokens, in the order first seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, None] = {}

    def note(self, *tokens: object) -> None:
        """Remember each non-empty string among ``tokens``."""
        with self._lock:
            for token in tokens:
                if isinstance(token, str) and token:
                    self._tokens.setdefault(token, None)

    def tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)
