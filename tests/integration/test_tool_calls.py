"""End to end: tool calling through the openai SDK, with Kimi's answer scripted in the emulator."""

from __future__ import annotations

import base64
import json

import pytest

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def scripted(answer: str) -> str:
    """A user message the emulator answers with exactly ``answer``."""
    return "weather in Paris? [[say:" + base64.urlsafe_b64encode(answer.encode()).decode() + "]]"


CALL = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_calls>'


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_and_the_round_trip(client, emulator, stream):
    messages = [{"role": "user", "content": scripted(CALL)}]
    if stream:
        chunks = list(
            client.chat.completions.create(
                model="kimi", messages=messages, tools=[WEATHER], stream=True
            )
        )
        calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        call_id, name, arguments = calls[0].id, calls[0].function.name, calls[0].function.arguments
    else:
        answer = client.chat.completions.create(model="kimi", messages=messages, tools=[WEATHER])
        choice = answer.choices[0]
        assert choice.message.content is None
        finish = choice.finish_reason
        call = choice.message.tool_calls[0]
        call_id, name, arguments = call.id, call.function.name, call.function.arguments
    assert finish == "tool_calls" and name == "get_weather"
    assert json.loads(arguments) == {"city": "Paris"}

    # The round trip: the same question (without the script marker), the call and its result.
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "18°C and sunny"},
    ]
    final = client.chat.completions.create(model="kimi", messages=messages, tools=[WEATHER])
    assert final.choices[0].finish_reason == "stop"
    text = final.choices[0].message.content
    assert f"tool:[result of tool call {call_id}] 18°C and sunny" in text
    assert emulator.undeleted_chats() == []


def test_an_ordinary_answer_with_tools_offered(client):
    answer = client.chat.completions.create(
        model="kimi",
        tools=[WEATHER],
        messages=[{"role": "user", "content": scripted("No tool needed: it is 18°C.")}],
    )
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content == "No tool needed: it is 18°C."
    assert not answer.choices[0].message.tool_calls
