"""Scenario files: the shipped ones load, bad ones are refused, selection and jobs work."""

from __future__ import annotations

import json

import pytest
from kimiproxy_conformance.config import SuiteConfig
from kimiproxy_conformance.jobs import build_job
from kimiproxy_conformance.scenario import SCENARIO_DIR, ScenarioError, from_dict, load_scenarios
from kimiproxy_conformance.selection import Selection, capabilities_from, select

REQUIRED_TOPICS = {
    "models",
    "history",
    "content-parts",
    "unicode",
    "long",
    "thinking",
    "search",
    "timeout",
    "retry",
    "concurrency",
    "auth",
    "validation",
    "usage",
    "tools",
}


def test_every_shipped_scenario_loads_and_is_described():
    scenarios = load_scenarios()
    assert len(scenarios) == len(list(SCENARIO_DIR.glob("*.json")))
    for s in scenarios:
        assert s.description, s.name
    tags = {t for s in scenarios for t in s.tags}
    assert REQUIRED_TOPICS <= tags


def test_unknown_fields_are_refused():
    with pytest.raises(ScenarioError, match="unknown field"):
        from_dict({"description": "x", "expectations": {}}, name="bad")
    with pytest.raises(ScenarioError, match="unknown expectation"):
        from_dict({"description": "x", "expect": {"contnet": "typo"}}, name="bad")
    with pytest.raises(ScenarioError, match="modes"):
        from_dict({"description": "x", "modes": ["sideways"]}, name="bad")
    for bad in ({"name": "f"}, [{"arguments": {}}], [{"name": "f", "args": {}}]):
        with pytest.raises(ScenarioError, match="tool_calls must be a list"):
            from_dict({"description": "x", "expect": {"tool_calls": bad}}, name="bad")


def test_extra_scenario_folders_add_cases_without_code(tmp_path):
    (tmp_path / "my-case.json").write_text(json.dumps({"description": "mine", "tags": ["custom"]}))
    names = [s.name for s in load_scenarios([tmp_path])]
    assert "my-case" in names and "chat-basic" in names
    (tmp_path / "chat-basic.json").write_text(json.dumps({"description": "clash"}))
    with pytest.raises(ScenarioError, match="used by"):
        load_scenarios([tmp_path])


def test_expectations_layer_by_mode_and_capability():
    s = from_dict(
        {
            "description": "x",
            "expect": {"content_contains": ["a"]},
            "expect_by_mode": {"stream": {"status": 200, "mid_stream_error": True}},
            "expect_if": {"kimi-emulator": {"content_contains": ["b"], "deterministic": True}},
        },
        name="layers",
    )
    assert s.expectation("non-stream", {"auth"}) == {"content_contains": ["a"], "status": 200}
    merged = s.expectation("stream", {"kimi-emulator"})
    assert (
        merged["content_contains"] == ["a", "b"]
        and merged["mid_stream_error"]
        and merged["deterministic"]
    )


def test_the_default_selection_is_portable_and_emulator_adds_the_rest():
    scenarios = load_scenarios()
    portable, left = select(scenarios, Selection())
    assert all(not (set(s.requires) - {"auth"}) for s in portable)
    assert {"chat-canned-deterministic", "chat-thinking"} <= {s.name for s, _ in left}
    everything, none_left = select(
        scenarios, Selection(capabilities=capabilities_from(emulator=True))
    )
    assert len(everything) == len(scenarios) and not none_left


def test_tags_and_names_select():
    scenarios = load_scenarios()
    chosen, _ = select(
        scenarios, Selection(tags=frozenset({"errors"}), skip_tags=frozenset({"auth"}))
    )
    assert chosen and all("errors" in s.tags and "auth" not in s.tags for s in chosen)
    chosen, _ = select(scenarios, Selection(names=("models-*",)))
    assert {s.name for s in chosen} == {"models-list", "models-retrieve", "models-retrieve-unknown"}


def test_jobs_fill_placeholders_and_keys():
    by_name = {s.name: s for s in load_scenarios()}
    config = SuiteConfig(base_url="http://127.0.0.1:9/v1/", api_key="k", model="m1")
    job = build_job(by_name["chat-concurrent"], "stream", config)
    assert job["base_url"] == "http://127.0.0.1:9/v1"
    assert [r["messages"][0]["content"] for r in job["requests"]][
        -1
    ] == "Concurrent request number 3."
    assert all(r["stream"] is True and r["model"] == "m1" for r in job["requests"])
    assert (
        build_job(by_name["error-auth-invalid"], "non-stream", config)["api_key"]
        == "invalid-conformance-key"
    )
    assert build_job(by_name["models-retrieve"], "non-stream", config)["model_id"] == "m1"
    assert build_job(by_name["error-bad-json"], "non-stream", config)["raw_bodies"] == [
        '{"model": "m1", "messages": ['
    ]
