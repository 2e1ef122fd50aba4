"""Reading the tokens and keys files, and checking keys."""

from __future__ import annotations

import logging

from kimiproxy.pool.keys import KeySet
from kimiproxy.pool.lines import TokenEntry, parse_keys, parse_tokens

TOKENS_FILE = """\
# the team's accounts
eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiIxIn0.c2ln

work=eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiIyIn0.c2ln   # Ana's
  spare-2=plain-refresh-token
this line has spaces
pool:abcdef123456
padded==
name=ab=cd
eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiIxIn0.c2ln
"""


def test_tokens_file_lines_labels_comments_and_duplicates():
    assert parse_tokens(TOKENS_FILE) == [
        TokenEntry("eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiIxIn0.c2ln"),
        TokenEntry("eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiIyIn0.c2ln", "work"),
        TokenEntry("plain-refresh-token", "spare-2"),
        TokenEntry("padded=="),
        TokenEntry("ab=cd", "name"),
    ]


def test_a_malformed_line_is_skipped_with_its_number_never_its_text(caplog):
    with caplog.at_level(logging.WARNING, logger="kimiproxy.pool.lines"):
        parse_tokens(TOKENS_FILE + "label=has space\n")
    warnings = [record.getMessage() for record in caplog.records]
    assert warnings == [
        "KIMIPROXY_TOKENS_FILE line 6: not a Kimi token (printable ASCII without spaces); "
        "the line is skipped",
        "KIMIPROXY_TOKENS_FILE line 7: not a Kimi token (it starts with 'pool:'); "
        "the line is skipped",
        "KIMIPROXY_TOKENS_FILE line 11: not a Kimi token (printable ASCII without spaces); "
        "the line is skipped",
    ]
    logged = " ".join(warnings)
    assert "abcdef123456" not in logged and "has space" not in logged


def test_a_non_ascii_token_is_malformed(caplog):
    with caplog.at_level(logging.WARNING, logger="kimiproxy.pool.lines"):
        assert parse_tokens("tök\nfine\n") == [TokenEntry("fine")]
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "KIMIPROXY_TOKENS_FILE line 1"
    ]


def test_keys_file(caplog):
    text = "# clients\nkey-one\n\nkey-two  # the CI\nkey one\nkey-one\n"
    with caplog.at_level(logging.WARNING, logger="kimiproxy.pool.lines"):
        assert parse_keys(text) == ["key-one", "key-two"]
    assert [r.getMessage() for r in caplog.records] == [
        "KIMIPROXY_API_KEYS_FILE line 5: not a key (printable ASCII without spaces); "
        "the line is skipped"
    ]


def test_key_set_matches_only_its_keys_and_hides_them():
    keys = KeySet(["alpha", "beta"])
    assert keys.matches("alpha") and keys.matches("beta")
    assert not keys.matches("alph") and not keys.matches("alphaa") and not keys.matches("")
    keys.replace(["gamma"])
    assert keys.matches("gamma") and not keys.matches("alpha") and len(keys) == 1
    assert "gamma" not in repr(keys)
    assert not KeySet().matches("anything")
