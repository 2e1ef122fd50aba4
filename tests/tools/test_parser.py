"""Reading tool calls out of an answer: what is a call, what is not, and agreement with the
notation written as a regular expression."""

import json
import random
import re

import pytest

from kimiproxy.tools.parser import block_body, read_tool_calls

TOOLS = [{"name": "get_weather", "description": "", "parameters": {}}]
CALL = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_calls>'

# The notation as a regular expression: clear, but quadratic on long runs of whitespace after the
# block, so only a reference for short answers here.
NOTATION = re.compile(
    r"^\s*(?:```[a-zA-Z]{0,20}\s*)?<tool_calls>(.*?)</tool_calls>\s*(?:```)?\s*$", re.S
)


@pytest.mark.parametrize(
    "text",
    [
        CALL,
        f"  \n{CALL}\n",
        f"```xml\n{CALL}\n```",
        f"```{CALL}```",
        f"```json {CALL}",
        f"{CALL}\n```",
        "<tool_calls>"
        + json.dumps({"name": "get_weather", "arguments": json.dumps({"city": "Paris"})})
        + "</tool_calls>",
    ],
)
def test_answers_that_are_tool_calls(text):
    (call,) = read_tool_calls(text, TOOLS)
    assert call["type"] == "function" and re.fullmatch(r"call_[0-9a-f]{24}", call["id"])
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


@pytest.mark.parametrize(
    "text",
    [
        "It is sunny.",
        f"Sure! {CALL}",
        f"{CALL} Done.",
        f"{CALL}\n```\nmore",
        f"````{CALL}",
        f"```{'a' * 21}\n{CALL}",
        "<tool_calls>not json</tool_calls>",
        "<tool_calls>[]</tool_calls>",
        '<tool_calls>[{"name": "get_weather"}, "x"]</tool_calls>',
        '<tool_calls>[{"name": ["get_weather"]}]</tool_calls>',
        '<tool_calls>[{"name": "unknown_tool", "arguments": {}}]</tool_calls>',
        '<tool_calls>[{"name": "get_weather"}]',
        "<tool_calls>" + "[" * 100000 + "]" * 100000 + "</tool_calls>",
    ],
)
def test_answers_that_are_not(text):
    assert read_tool_calls(text, TOOLS) == []


def test_several_calls_get_their_own_ids_and_default_arguments():
    text = '<tool_calls>[{"name": "get_weather"}, {"name": "get_weather", "arguments": {}}]'
    calls = read_tool_calls(text + "</tool_calls>", TOOLS)
    assert [c["function"]["arguments"] for c in calls] == ["{}", "{}"]
    assert calls[0]["id"] != calls[1]["id"]


def test_the_block_ends_at_its_last_closing_tag():
    text = '<tool_calls>[{"name": "get_weather", "arguments": {"q": "</tool_calls>"}}]</tool_calls>'
    (call,) = read_tool_calls(text, TOOLS)
    assert json.loads(call["function"]["arguments"]) == {"q": "</tool_calls>"}


def test_arguments_keep_non_ascii_text():
    (call,) = read_tool_calls(CALL.replace("Paris", "北京"), TOOLS)
    assert "北京" in call["function"]["arguments"]


PIECES = [" ", "\n", "\u3000", "`", "```", "json", "a" * 20, "a" * 21, "x", "<", "<tool"]
PIECES += ["<tool_calls>", "</tool_calls>", "[", "]", '"', '{"name": "get_weather"}']


def test_the_parser_agrees_with_the_notation_on_generated_answers():
    rnd = random.Random(7)
    blocks = 0
    for _ in range(20000):
        text = "".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 8)))
        if rnd.random() < 0.5:  # make sure plenty of them are close to a block
            text = rnd.choice(["", " ", "```json\n", "```"]) + "<tool_calls>" + text
            text += "</tool_calls>" + rnd.choice(["", " ", "\n```", "``` \n", "x"])
        expected = NOTATION.match(text)
        assert block_body(text) == (expected.group(1) if expected else None), repr(text)
        blocks += expected is not None
    assert blocks > 1000
