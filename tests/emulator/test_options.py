"""The options module: what exists, how values are read and checked, and the errors that name
the option at fault."""

from __future__ import annotations

import argparse
import json

import pytest

from kimiproxy.emulator import create_emulator_app
from kimiproxy.emulator.options import (
    DEFAULT_OPTIONS,
    OPTIONS,
    add_option_argument,
    merge_options,
    option_argument,
    parse_option,
    parse_options,
)
from kimiproxy.hosting.processes import start_emulator


def test_parse_option_values_are_json_else_strings():
    assert parse_option("research_total=3") == ("research_total", 3)
    assert parse_option("one_stream_per_account=false") == ("one_stream_per_account", False)
    assert parse_option("slow_chunk_delay=0.25") == ("slow_chunk_delay", 0.25)
    assert parse_option("chunk_size=eight") == ("chunk_size", "eight")
    assert parse_options(["research_total=3", "one_stream_per_account=false"]) == {
        "research_total": 3,
        "one_stream_per_account": False,
    }
    assert parse_options(None) == {}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("nope=1", "unknown emulator option 'nope'"),
        ("research_total", "KEY=VALUE"),
        ("=3", "KEY=VALUE"),
        ("chunk_size=eight", "chunk_size must be an integer"),
        ("chunk_size=1.5", "chunk_size must be an integer"),
        ("one_stream_per_account=1", "must be true or false"),
        ("research_total=-1", "research_total must be an integer >= 0"),
        ("slow_chunk_delay=fast", "slow_chunk_delay must be a number >= 0"),
    ],
)
def test_parse_options_refuses_bad_items(item, message):
    with pytest.raises(ValueError, match=message):
        parse_options([item])


def test_merge_overlays_defaults_or_a_base():
    assert merge_options(None) == DEFAULT_OPTIONS
    assert merge_options({"chunk_size": 3})["chunk_size"] == 3
    base = {**DEFAULT_OPTIONS, "research_total": 1}
    merged = merge_options({"chunk_size": 3}, base)
    assert (merged["research_total"], merged["chunk_size"]) == (1, 3)
    assert base["chunk_size"] == DEFAULT_OPTIONS["chunk_size"]
    with pytest.raises(ValueError, match=r"unknown emulator options: \['nope'\]"):
        merge_options({"nope": 1})


def test_a_float_option_takes_an_integer():
    assert merge_options({"slow_chunk_delay": 1})["slow_chunk_delay"] == 1


def test_option_argument_reads_back_as_the_same_value():
    for key, value in [("research_total", 3), ("one_stream_per_account", False)]:
        assert parse_option(option_argument(key, value)) == (key, value)
    with pytest.raises(ValueError, match="unknown emulator option 'nope'"):
        option_argument("nope", 1)


def test_app_refuses_bad_options():
    with pytest.raises(ValueError, match="unknown emulator options"):
        create_emulator_app({"research_totl": 3})
    with pytest.raises(ValueError, match="chunk_size must be an integer"):
        create_emulator_app({"chunk_size": "8"})


def test_start_emulator_refuses_a_bad_option_before_starting():
    # Port 1 is never bound: the check must come before any process is started.
    with pytest.raises(ValueError, match="must be true or false"):
        start_emulator(1, {"one_stream_per_account": "no"})


def test_the_option_argument_help_lists_every_option_with_its_default(monkeypatch):
    monkeypatch.setenv("COLUMNS", "10000")  # no wrapping, which may cut a name at a hyphen
    parser = argparse.ArgumentParser(prog="x")
    add_option_argument(parser)
    text = parser.format_help()
    for name, option in OPTIONS.items():
        assert f"{name} ({json.dumps(option.default)}) {option.help}" in text
