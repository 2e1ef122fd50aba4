"""Checking the tool fields of a request: ``tools``, ``tool_choice`` and earlier ``tool_calls``,
each problem a 400 naming the field."""

import pytest

from kimiproxy.errors import InvalidRequest
from kimiproxy.tools.request_fields import read_message_tool_calls, read_tool_choice, read_tools
from kimiproxy.wire.openai_chat_request import parse_chat_request

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
USER = [{"role": "user", "content": "weather in Paris?"}]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": {}}, "tools"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0]"),
        (
            {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "tools[0].function.name",
        ),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
        (
            {
                "tools": [WEATHER],
                "tool_choice": {"type": "function", "function": {"name": "other"}},
            },
            "tool_choice",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
    ],
)
def test_bad_tool_requests(extra, param):
    with pytest.raises(InvalidRequest) as caught:
        parse_chat_request({"messages": USER, **extra})
    assert caught.value.param == param


def test_tools_are_read_as_name_description_and_parameters():
    assert read_tools([WEATHER]) == [WEATHER["function"]]
    assert read_tools(None) == []
    bare = read_tools([{"type": "function", "function": {"name": "f"}}])
    assert bare == [{"name": "f", "description": "", "parameters": {}}]


@pytest.mark.parametrize(
    ("raw", "tools", "choice"),
    [
        (None, [], "none"),
        (None, ["tool"], "auto"),
        ("required", ["tool"], "required"),
        ({"type": "function", "function": {"name": "f"}}, [{"name": "f"}], {"name": "f"}),
    ],
)
def test_tool_choice(raw, tools, choice):
    assert read_tool_choice(raw, tools) == choice


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({}, "messages[2].tool_calls"),
        (["x"], "messages[2].tool_calls[0]"),
        ([{"function": {"name": "f", "arguments": {}}}], "messages[2].tool_calls[0]"),
    ],
)
def test_bad_earlier_tool_calls(raw, param):
    with pytest.raises(InvalidRequest) as caught:
        read_message_tool_calls(raw, 2)
    assert caught.value.param == param
