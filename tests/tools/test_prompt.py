"""The tool-calling text Kimi reads: earlier calls and results in the history, and the offer."""

import json

import pytest

from kimiproxy.chat.request import Message
from kimiproxy.tools.notation import CLOSE, OPEN
from kimiproxy.tools.parser import read_tool_calls
from kimiproxy.tools.prompt import history_text, tool_instructions

TOOLS = [{"name": "get_weather", "description": "Weather for a city", "parameters": {}}]


def call(arguments: str, name: str = "get_weather") -> dict:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_a_tool_result_names_the_call_it_answers():
    message = Message(role="tool", text="18°C, sunny", tool_call_id="call_1")
    assert history_text(message) == "[result of tool call call_1] 18°C, sunny"


def test_plain_messages_are_their_text():
    assert history_text(Message(role="user", text="hi")) == "hi"


def test_earlier_calls_are_written_in_the_notation_kimi_answers_in():
    message = Message(role="assistant", text="", tool_calls=[call('{"city": "Paris"}')])
    text = history_text(message)
    assert text == OPEN + '[{"name": "get_weather", "arguments": {"city": "Paris"}}]' + CLOSE
    # What the proxy writes for Kimi, the proxy also reads back as the same call.
    (parsed,) = read_tool_calls(text, TOOLS)
    assert json.loads(parsed["function"]["arguments"]) == {"city": "Paris"}


def test_text_before_the_calls_is_kept_on_its_own_line():
    message = Message(role="assistant", text="Let me look.", tool_calls=[call("{}")])
    assert history_text(message).startswith("Let me look.\n" + OPEN)


@pytest.mark.parametrize("arguments", ["not json", "[" * 5000 + "]" * 5000])
def test_arguments_that_do_not_decode_are_sent_as_given(arguments):
    message = Message(role="assistant", text="", tool_calls=[call(arguments)])
    entries = json.loads(history_text(message)[len(OPEN) : -len(CLOSE)])
    assert entries == [{"name": "get_weather", "arguments": arguments}]


@pytest.mark.parametrize(
    ("choice", "line"),
    [
        ("auto", "If no tool is needed, answer normally."),
        ("required", "You must call at least one tool now."),
        ({"name": "get_weather"}, 'You must call the tool "get_weather" now.'),
    ],
)
def test_the_offer_lists_the_tools_and_what_is_asked(choice, line):
    text = tool_instructions(TOOLS, choice)
    lines = text.split("\n")
    assert json.loads(lines[1]) == TOOLS
    assert OPEN in lines[2] and CLOSE in lines[2]
    assert lines[-1] == line
