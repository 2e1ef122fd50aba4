"""Request validation: every bad body is a 400 naming the field."""

import pytest

from kimiproxy.errors import InvalidRequest
from kimiproxy.wire.openai_chat_request import parse_chat_request

USER = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ([], None, "JSON object"),
        ({}, "messages", "'messages' is required"),
        ({"messages": "hi"}, "messages", "must be an array"),
        ({"messages": []}, "messages", "at least one"),
        ({"messages": ["hi"]}, "messages[0]", "must be an object"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "must be one of"),
        ({"messages": [{"content": "x"}]}, "messages[0].role", "must be one of"),
        (
            {"messages": [{"role": "user", "content": 5}]},
            "messages[0].content",
            "string or an array",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "audio"}]}]},
            "messages[0].content[0].type",
            "must be one of",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
            "messages[0].content[0].text",
            "must be a string",
        ),
        ({"messages": [{"role": "user", "content": "  "}]}, "messages", "has no content"),
        ({"messages": USER, "stream": "yes"}, "stream", "must be a boolean"),
        ({"messages": USER, "model": 3}, "model", "must be a string"),
        ({"messages": USER, "n": 2}, "n", "must be 1"),
        ({"messages": USER, "n": "1"}, "n", "must be an integer"),
        ({"messages": USER, "n": True}, "n", "must be an integer"),
        ({"messages": USER, "temperature": "hot"}, "temperature", "must be a number"),
        ({"messages": USER, "stream_options": []}, "stream_options", "must be an object"),
        (
            {"messages": USER, "stream_options": {"include_usage": "y"}},
            "stream_options.include_usage",
            "boolean",
        ),
        ({"messages": USER, "conversation_id": 12}, "conversation_id", "must be a string"),
    ],
)
def test_bad_bodies_name_the_problem(body, param, fragment):
    with pytest.raises(InvalidRequest) as caught:
        parse_chat_request(body)
    assert caught.value.status == 400
    assert caught.value.param == param
    assert fragment in caught.value.message


def test_defaults_and_flags():
    request = parse_chat_request({"messages": USER})
    assert request.model_name == "kimi" and not request.stream and not request.keep_chat
    request = parse_chat_request(
        {
            "model": "kimi-search-silent",
            "messages": USER,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert request.model.search and request.model.silent and request.include_usage


def test_usage_only_applies_to_streams():
    request = parse_chat_request({"messages": USER, "stream_options": {"include_usage": True}})
    assert not request.include_usage


def test_content_parts_split_into_text_and_files():
    request = parse_chat_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "read"},
                        {"type": "text", "text": "this"},
                        {"type": "file", "file_url": {"url": "https://example.com/a.pdf"}},
                    ],
                }
            ]
        }
    )
    assert request.last_message.text == "read\nthis"
    assert request.last_message.parts[0]["type"] == "file"


@pytest.mark.parametrize(
    ("value", "chat", "keep"),
    [(None, None, False), ("none", None, True), ("", None, True), ("d3abc", "d3abc", True)],
)
def test_conversation_id(value, chat, keep):
    body = {"messages": USER}
    if value is not None:
        body["conversation_id"] = value
    request = parse_chat_request(body)
    assert request.conversation_id == chat
    assert request.keep_chat is keep


def test_strip_citations_request_overrides_setting():
    assert parse_chat_request({"messages": USER}, strip_citations_default=True).strip_citations
    assert not parse_chat_request(
        {"messages": USER, "strip_citations": False}, strip_citations_default=True
    ).strip_citations


@pytest.mark.parametrize(
    "value", ["../../user?", "cnabc/../../x#", "中文", "id\r\nX-Evil: 1", "x" * 65, "-leading-dash"]
)
def test_conversation_ids_must_look_like_ids(value):
    with pytest.raises(InvalidRequest) as caught:
        parse_chat_request({"messages": USER, "conversation_id": value})
    assert caught.value.param == "conversation_id"
    assert value not in caught.value.message


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_completion_tokens": 0}, "max_completion_tokens"),
        ({"messages": [{"role": "user", "content": "x", "name": 5}]}, "messages[0].name"),
    ],
)
def test_more_wrong_values(extra, param):
    with pytest.raises(InvalidRequest) as caught:
        parse_chat_request({"messages": USER, **extra})
    assert caught.value.param == param
