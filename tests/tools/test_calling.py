"""The chat core's former names still answer as they did, now over the one detector."""

from types import SimpleNamespace

from kimiproxy.tools.calling import ToolCallSniffer, active, parse_tool_calls

TOOLS = [{"name": "get_weather"}]
CALL = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_calls>'


def test_parse_tool_calls_gives_calls_or_none():
    assert parse_tool_calls(CALL, TOOLS)[0]["function"]["name"] == "get_weather"
    assert parse_tool_calls("It is sunny.", TOOLS) is None
    assert parse_tool_calls(CALL, []) is None


def test_the_sniffer_finishes_with_held_text_and_calls_or_none():
    sniffer = ToolCallSniffer(TOOLS)
    assert sniffer.feed(CALL[:5]) == "" and sniffer.feed(CALL[5:]) == ""
    held, calls = sniffer.finish()
    assert held == "" and calls[0]["function"]["name"] == "get_weather"

    sniffer = ToolCallSniffer(TOOLS)
    assert sniffer.feed("<tool_calls>bro") == "" and sniffer.feed("ken") == ""
    assert sniffer.finish() == ("<tool_calls>broken", None)


def test_active_is_tools_active():
    assert active(SimpleNamespace(tools=TOOLS, tool_choice="auto"))
    assert not active(SimpleNamespace(tools=TOOLS, tool_choice="none"))
