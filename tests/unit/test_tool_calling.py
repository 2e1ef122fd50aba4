"""Tool calling through the app: the prompt Kimi gets, and calls in answers, streamed and not."""

import json

import pytest

from kimiproxy.upstream.events import Finished, TextDelta

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CALL = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_calls>'
USER = [{"role": "user", "content": "weather in Paris?"}]


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


def streamed(response) -> tuple[str, list[dict], str]:
    chunks = [
        json.loads(line[6:])
        for line in response.get_data(as_text=True).split("\n\n")
        if line.startswith("data: {")
    ]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    content = "".join(d.get("content") or "" for d in deltas)
    calls = [call["function"] for d in deltas for call in d.get("tool_calls") or []]
    return content, calls, [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1]


@pytest.mark.parametrize(
    "answer",
    [
        "It is sunny.",
        CALL,
        f"```json\n{CALL}\n```",
        f"Sure! {CALL}",
        f"```{'a' * 30}\n{CALL}",
        CALL.replace("get_weather", "unknown"),
        "<tool_calls>[]</tool_calls>" + " " * 5000 + "x",
    ],
)
def test_streamed_and_whole_answers_agree(http, scripted, answer):
    pieces = [answer[i : i + 4] for i in range(0, len(answer), 4)]
    scripted.script = lambda turn: [*map(TextDelta, pieces), Finished()]
    body = {"messages": USER, "tools": [WEATHER]}
    whole = http.post("/v1/chat/completions", json=body).get_json()["choices"][0]
    content, calls, finish = streamed(
        http.post("/v1/chat/completions", json={**body, "stream": True})
    )
    assert (whole["message"]["content"] or "") == content
    assert [c["function"] for c in whole["message"].get("tool_calls") or []] == calls
    assert whole["finish_reason"] == finish
    assert (finish == "tool_calls") == bool(calls) == (content == "")
