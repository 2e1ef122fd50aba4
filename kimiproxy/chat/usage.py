"""Token counts for the ``usage`` field.

The Kimi web chat reports no token counts, so the proxy counts them itself with a documented rule:
each CJK character, emoji or other non-ASCII symbol is one token, and runs of ASCII text count one
token per four characters (rounded up) — close to what BPE tokenizers give for mixed text.
"""

from __future__ import annotations

import re

_ASCII_RUN = re.compile(r"[\x00-\x7f]+")


def count_tokens(text: str) -> int:
    if not text:
        return 0
    ascii_chars = 0
    tokens = 0
    for run in _ASCII_RUN.findall(text):
        ascii_chars += len(run)
        tokens += (len(run.strip()) + 3) // 4
    return tokens + (len(text) - ascii_chars)


def usage_for(prompt: str, completion: str) -> dict:
    prompt_tokens = count_tokens(prompt)
    completion_tokens = count_tokens(completion)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
