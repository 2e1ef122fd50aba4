"""Reading the operator's files: ``KIMIPROXY_TOKENS_FILE`` (one Kimi token per line, with an
optional ``name=`` label) and ``KIMIPROXY_API_KEYS_FILE`` (one key per line).

Blank lines and lines starting with ``#`` are ignored, and so is a ``#`` comment after the value
(tokens and keys never contain spaces). A line that holds no valid value is skipped with a
warning that names the file's variable and the line number, never the line itself: it may be a
token with a typo.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from kimiproxy.accounts.directory import is_pool_credential
from kimiproxy.settings import TOKEN_SHAPE

log = logging.getLogger(__name__)
# ``work=eyJ...``: a label, then the token. A token that itself holds "=" after a leading run
# of label characters needs a label in front of it (``name=ab=cd``).
_LABELLED = re.compile(r"^(?P<label>[A-Za-z0-9_-]{1,64})=(?P<token>[^=].*)$")
_TRAILING_COMMENT = re.compile(r"\s+#.*$")


@dataclass(frozen=True)
class TokenEntry:
    """One token of the tokens file (or of ``KIMIPROXY_KIMI_TOKENS``); ``label`` is ``None``
    when the line gave none."""

    token: str
    label: str | None = None


def _values(text: str) -> list[tuple[int, str]]:
    """``(line number, value)`` of every line that is neither blank nor a comment."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _TRAILING_COMMENT.sub("", raw).strip()
        if line and not line.startswith("#"):
            found.append((number, line))
    return found


def _skip(variable: str, number: int, why: str) -> None:
    log.warning("%s line %d: %s; the line is skipped", variable, number, why)


def parse_tokens(text: str, variable: str = "KIMIPROXY_TOKENS_FILE") -> list[TokenEntry]:
    """The tokens of a tokens file, in file order, each once (the first line of a token wins)."""
    entries: dict[str, TokenEntry] = {}
    for number, line in _values(text):
        match = _LABELLED.match(line)
        label, token = (match["label"], match["token"]) if match else (None, line)
        if not TOKEN_SHAPE.match(token):
            _skip(variable, number, "not a Kimi token (printable ASCII without spaces)")
        elif is_pool_credential(token):
            _skip(variable, number, "not a Kimi token (it starts with 'pool:')")
        elif token not in entries:
            entries[token] = TokenEntry(token, label)
    return list(entries.values())


def parse_keys(text: str, variable: str = "KIMIPROXY_API_KEYS_FILE") -> list[str]:
    """The keys of a keys file, in file order, each once."""
    keys: dict[str, None] = {}
    for number, line in _values(text):
        if TOKEN_SHAPE.match(line):
            keys.setdefault(line)
        else:
            _skip(variable, number, "not a key (printable ASCII without spaces)")
    return list(keys)
