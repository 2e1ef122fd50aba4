"""Model-name flags, prompt merging and the usage counts."""

import pytest

from kimiproxy.chat.model_names import known_model, parse_model
from kimiproxy.chat.prompt import FOCUS_ON_LATEST, merge_messages
from kimiproxy.chat.request import Message
from kimiproxy.chat.usage import count_tokens, usage_for


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        (None, set()),
        ("kimi", set()),
        ("kimi-search", {"search"}),
        ("kimi-k1", {"thinking"}),
        ("kimi-thinking-search-silent", {"thinking", "search", "silent"}),
        ("kimi-research", {"research"}),
        ("kimi-math", {"math"}),
        ("gpt-4o", set()),
    ],
)
def test_model_flags(name, flags):
    assert parse_model(name).flags == flags


def test_use_search_field_and_agent_ids():
    assert parse_model("kimi", use_search=True).search
    agent = parse_model("cnndivilnl96vah411dg")
    assert agent.agent_id == "cnndivilnl96vah411dg"


@pytest.mark.parametrize(
    ("model_id", "protocol", "known"),
    [
        ("kimi", "connect", True),
        ("kimi-search-silent", "connect", True),
        ("kimi-research", "connect", False),
        ("kimi-research", "rest", True),
        ("kimi-search-search", "rest", False),
        ("gpt-4o", "rest", False),
        ("cnndivilnl96vah411dg", "rest", True),
        ("kimi-banana", "connect", False),
    ],
)
def test_known_models(model_id, protocol, known):
    assert known_model(model_id, protocol) is known


def test_one_message_is_sent_as_is():
    assert merge_messages([Message("user", "hello")]) == "hello"


def test_history_is_flattened_with_a_focus_line():
    merged = merge_messages(
        [
            Message("system", "be brief"),
            Message("user", "hi"),
            Message("assistant", "hello"),
            Message("user", "how are you?"),
        ]
    )
    assert merged.splitlines() == [
        "system:be brief",
        "user:hi",
        "assistant:hello",
        f"system:{FOCUS_ON_LATEST}",
        "user:how are you?",
    ]


def test_token_counts():
    assert count_tokens("") == 0
    assert count_tokens("abcd") == 1
    assert count_tokens("中文") == 2
    usage = usage_for("hello world", "中文 ok")
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
