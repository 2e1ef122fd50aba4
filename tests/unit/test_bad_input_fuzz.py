"""Mutated request bodies never get a 5xx: every one is answered by an OpenAI error object or a
normal answer. Seeded, so a failure reproduces."""

import copy
import json
import random

import pytest

VALID = {
    "model": "kimi-search",
    "stream": False,
    "stream_options": {"include_usage": True},
    "temperature": 0.5,
    "n": 1,
    "conversation_id": "none",
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": "auto",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": "ok"},
        {"role": "user", "content": "and?"},
    ],
}
ODD_VALUES = [
    None,
    True,
    0,
    -1,
    10**30,
    1.5,
    "",
    "x" * 300,
    [],
    {},
    [None],
    {"a": []},
    "none",
    "\ud800",
]


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def mutate(rng: random.Random) -> dict:
    body = copy.deepcopy(VALID)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice([p for p in paths(body) if p])
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = rng.choice(ODD_VALUES)
    return body


@pytest.mark.parametrize("seed", range(300))
def test_mutated_bodies_get_no_server_error(http, seed):
    body = mutate(random.Random(seed))
    data = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    response = http.post(
        "/v1/chat/completions", data=data, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, (body, response.get_data(as_text=True))
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert isinstance(error["message"], str) and error["message"]
        assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",
        b'"just a string"',
        b"[" * 5000,
        b"null",
        b"1e999",
        b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
    ],
)
def test_odd_raw_bodies(http, raw):
    response = http.post(
        "/v1/chat/completions", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.get_data(as_text=True)
