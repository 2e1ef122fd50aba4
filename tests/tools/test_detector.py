"""The one tool-call detector: what a stream holds back and releases, and the same outcome for an
answer however it is cut into pieces, whole answers included."""

import json
import random
from types import SimpleNamespace

import pytest

from kimiproxy.tools import DetectedAnswer, ToolCallDetector, detect_whole_answer, tools_active

TOOLS = [{"name": "get_weather", "description": "", "parameters": {}}]
CALL = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_calls>'


def feed_in_pieces(text: str, sizes: list[int], tools=TOOLS) -> tuple[str, DetectedAnswer]:
    detector, released, at = ToolCallDetector(tools), [], 0
    for size in sizes:
        released.append(detector.feed(text[at : at + size]))
        at += size
    assert at >= len(text)
    return "".join(released), detector.finish()


def outcome(released: str, answer: DetectedAnswer) -> tuple[str, list]:
    """What the client ends up with, call ids (random) left out."""
    return released + answer.text, [call["function"] for call in answer.tool_calls]


@pytest.mark.parametrize("size", [1, 3, 7, 100])
def test_a_call_is_held_back_whatever_the_chunking(size):
    released, answer = feed_in_pieces(CALL, [size] * len(CALL))
    assert released == "" and answer.text == ""
    (call,) = answer.tool_calls
    assert call["function"]["name"] == "get_weather"


@pytest.mark.parametrize(
    "chunks",
    [
        ["``", "`json\n" + CALL + "\n```"],
        ["```json <tool_calls>", CALL[len("<tool_calls>") :] + "```"],
        ["`", "``", "\n<tool_calls>", '[{"name": "get_weather"}]', "</tool_calls>", "\n```"],
    ],
)
def test_split_code_fences_still_hold_back_a_call(chunks):
    detector = ToolCallDetector(TOOLS)
    released = "".join(detector.feed(chunk) for chunk in chunks)
    answer = detector.finish()
    assert released == "" and answer.text == ""
    assert answer.tool_calls[0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize(
    ("pieces", "released_after"),
    [
        (["It", " is sunny."], ["It", " is sunny."]),
        (["  ", "<", "b>bold"], ["", "", "  <b>bold"]),
        (["```py", "thon\n", "print(1)"], ["", "", "```python\nprint(1)"]),
        (["``", "``x"], ["", "````x"]),
        (["```" + "a" * 20, "a"], ["", "```" + "a" * 21]),
        (["<tool_", "box>"], ["", "<tool_box>"]),
    ],
)
def test_ordinary_text_is_released_as_soon_as_it_cannot_be_a_call(pieces, released_after):
    detector = ToolCallDetector(TOOLS)
    assert [detector.feed(piece) for piece in pieces] == released_after
    assert detector.finish() == DetectedAnswer("")


@pytest.mark.parametrize("answer", ["<b>bold</b> text", "Plain answer", "<tool_calls>broken", " "])
def test_a_held_answer_that_is_no_call_comes_back_at_the_end(answer):
    released, detected = feed_in_pieces(answer, [1] * len(answer))
    assert released + detected.text == answer and detected.tool_calls == []


def test_without_tools_everything_passes_straight_through():
    detector = ToolCallDetector([])
    assert detector.feed(CALL) == CALL
    assert detector.finish() == DetectedAnswer("")


def request(tools, choice):
    return SimpleNamespace(tools=tools, tool_choice=choice)


@pytest.mark.parametrize(
    ("tools", "choice", "active"),
    [(TOOLS, "auto", True), (TOOLS, "required", True), (TOOLS, "none", False), ([], "none", False)],
)
def test_a_detector_for_a_request_detects_only_when_tools_are_in_play(tools, choice, active):
    assert tools_active(request(tools, choice)) is active
    detector = ToolCallDetector.for_request(request(tools, choice))
    assert (detector.feed(CALL) == "") is active
    assert bool(detector.finish().tool_calls) is active


def test_a_whole_answer_keeps_all_its_text_unless_it_is_a_call():
    assert detect_whole_answer("It is sunny.", TOOLS) == DetectedAnswer("It is sunny.")
    assert detect_whole_answer(f"  {CALL} x", TOOLS) == DetectedAnswer(f"  {CALL} x")
    whole = detect_whole_answer(f"```json\n{CALL}\n```\n", TOOLS)
    assert whole.text == "" and json.loads(whole.tool_calls[0]["function"]["arguments"]) == {
        "city": "Paris"
    }


ANSWERS = [
    "",
    "It is sunny.",
    CALL,
    f"\n\n{CALL}\n\n",
    f"```json\n{CALL}\n```",
    f"```{CALL}```",
    f"```{'a' * 20}\n{CALL}",
    f"```{'a' * 21}\n{CALL}",
    f"Sure! {CALL}",
    f"{CALL} and some more",
    f"{CALL}</tool_calls>",
    CALL.replace("</tool_calls>", ""),
    CALL.replace("get_weather", "unknown"),
    '<tool_calls>[{"name": "get_weather"}, {"name": "get_weather", "arguments": "{}"}]'
    + "</tool_calls>",
    "<tool_calls>[]</tool_calls>",
    "<tool_calls>" * 500,
    "`" * 5000,
    "```" + "a" * 5000,
    " " * 20000,
    "<tool_calls>[]</tool_calls>" + " " * 20000 + "x",
    f"<tool_calls>{CALL}</tool_calls>",
    "<tool_calls>" + "[" * 20000 + "]" * 20000 + "</tool_calls>",
    '<tool_calls>[{"name": "' + "a" * 20000 + "</tool_calls>",
    "\u3000<tool_calls>[\u00a0]</tool_calls>",
    "👍 <tool_calls>",
]


@pytest.mark.parametrize("text", ANSWERS, ids=range(len(ANSWERS)))
def test_streamed_in_any_pieces_and_whole_give_the_same_outcome(text):
    whole = detect_whole_answer(text, TOOLS)
    assert outcome("", whole) == outcome(*feed_in_pieces(text, [len(text) or 1]))
    rnd = random.Random(text)
    for _ in range(10):
        sizes = [rnd.choice([1, 1, 2, 3, 5, 13, 100, 4096]) for _ in range(len(text) + 1)]
        assert outcome(*feed_in_pieces(text, sizes)) == outcome("", whole)
    # And every piece fed one character at a time (the finest cut there is).
    assert outcome(*feed_in_pieces(text, [1] * (len(text) + 1))) == outcome("", whole)
