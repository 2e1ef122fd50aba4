"""Tool calling: request checks, the prompt, parsing answers, and the stream hold-back."""

import json

import pytest

from kimiproxy.errors import InvalidRequest
from kimiproxy.tools.calling import ToolCallSniffer, parse_tool_calls
from kimiproxy.upstream.events import Finished, TextDelta
from kimiproxy.wire.openai_chat_request import parse_chat_request

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TOOLS = [{"name": "get_weather", "description": "", "parameters": {}}]
CALL = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_calls>'
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


@pytest.mark.parametrize(
    "text",
    [
        CALL,
        f"  \n{CALL}\n",
        f"```xml\n{CALL}\n```",
        "<tool_calls>"
        + json.dumps({"name": "get_weather", "arguments": json.dumps({"city": "Paris"})})
        + "</tool_calls>",
    ],
)
def test_answers_that_are_tool_calls(text):
    calls = parse_tool_calls(text, TOOLS)
    assert calls[0]["type"] == "function" and calls[0]["id"].startswith("call_")
    assert calls[0]["function"]["name"] == "get_weather"
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}


@pytest.mark.parametrize(
    "text",
    [
        "It is sunny.",
        f"Sure! {CALL}",
        "<tool_calls>not json</tool_calls>",
        '<tool_calls>[{"name": "unknown_tool", "arguments": {}}]</tool_calls>',
    ],
)
def test_answers_that_are_not(text):
    assert parse_tool_calls(text, TOOLS) is None


@pytest.mark.parametrize("size", [1, 3, 7, 100])
def test_sniffer_holds_back_a_call_whatever_the_chunking(size):
    sniffer = ToolCallSniffer(TOOLS)
    released = "".join(sniffer.feed(CALL[i : i + size]) for i in range(0, len(CALL), size))
    held, calls = sniffer.finish()
    assert released == "" and held == "" and calls[0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize("answer", ["<b>bold</b> text", "Plain answer", "<tool_calls>broken"])
def test_sniffer_releases_ordinary_text(answer):
    sniffer = ToolCallSniffer(TOOLS)
    released = "".join(sniffer.feed(ch) for ch in answer)
    held, calls = sniffer.finish()
    assert released + held == answer and calls is None


def test_history_with_tool_calls_and_the_instructions_reach_kimi(http, scripted):
    messages = USER + [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"},
    ]
    http.post("/v1/chat/completions", json={"messages": messages, "tools": [WEATHER]})
    prompt = scripted.turns[-1].prompt
    assert (
        'assistant:<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}]' in prompt
    )
    assert "tool:[result of tool call call_1] 18°C, sunny" in prompt
    assert '"name": "get_weather"' in prompt.split("You can call these tools")[1]


@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_answers(http, scripted, stream):
    scripted.script = lambda turn: [TextDelta(CALL[:10]), TextDelta(CALL[10:]), Finished()]
    response = http.post(
        "/v1/chat/completions", json={"messages": USER, "tools": [WEATHER], "stream": stream}
    )
    if stream:
        chunks = [
            json.loads(line[6:])
            for line in response.get_data(as_text=True).split("\n\n")
            if line.startswith("data: {")
        ]
        calls = [
            c["choices"][0]["delta"]["tool_calls"]
            for c in chunks
            if c["choices"][0]["delta"].get("tool_calls")
        ]
        assert len(calls) == 1 and calls[0][0]["index"] == 0
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
        assert all(not c["choices"][0]["delta"].get("content") for c in chunks)
    else:
        choice = response.get_json()["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        assert choice["message"]["content"] is None
        assert choice["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_tool_choice_none_leaves_answers_alone(http, scripted):
    scripted.script = lambda turn: [TextDelta(CALL), Finished()]
    body = http.post(
        "/v1/chat/completions", json={"messages": USER, "tools": [WEATHER], "tool_choice": "none"}
    ).get_json()
    assert body["choices"][0]["message"]["content"] == CALL
    assert "You can call these tools" not in scripted.turns[-1].prompt
