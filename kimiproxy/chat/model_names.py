"""Model names: how an OpenAI ``model`` string maps to Kimi features, and which names are listed."""

from __future__ import annotations

import re

from kimiproxy.upstream.model_spec import ModelSpec

DEFAULT_MODEL = "kimi"
AGENT_ID = re.compile(r"^[0-9a-v]{20}$")
FLAG_WORDS = {
    "search": "search",
    "research": "research",
    "k1": "thinking",
    "thinking": "thinking",
    "math": "math",
    "silent": "silent",
}
LISTED = {
    "connect": [
        "kimi",
        "kimi-search",
        "kimi-thinking",
        "kimi-thinking-search",
        "kimi-search-silent",
    ],
    "rest": [
        "kimi",
        "kimi-search",
        "kimi-research",
        "kimi-k1",
        "kimi-k1-search",
        "kimi-math",
        "kimi-search-silent",
    ],
}
# Features each protocol (connect, rest) can really deliver.
SUPPORTED_FLAGS = {
    "connect": {"search", "thinking", "silent"},
    "rest": {"search", "research", "thinking", "math", "silent"},
}


def parse_model(name: str | None, *, use_search: bool = False) -> ModelSpec:
    """Read the kimi-free-api flags out of any model name; unknown names mean plain ``kimi``."""
    name = name or DEFAULT_MODEL
    if AGENT_ID.match(name):
        return ModelSpec(name=name, agent_id=name, search=use_search)
    words = set(re.split(r"[-_:/.]", name.lower()))
    flags = {FLAG_WORDS[w] for w in words if w in FLAG_WORDS}
    return ModelSpec(
        name=name,
        search="search" in flags or use_search,
        research="research" in flags,
        thinking="thinking" in flags,
        math="math" in flags,
        silent="silent" in flags,
    )


def known_model(model_id: str, protocol: str) -> bool:
    """Whether ``GET /v1/models/{id}`` should find this id: a listed name, a combination of
    supported flags on ``kimi``, or a Kimi+ agent id."""
    if model_id in LISTED[protocol] or AGENT_ID.match(model_id):
        return True
    parts = model_id.split("-")
    if parts[0] != "kimi" or len(parts) < 2:
        return False
    flags = [FLAG_WORDS.get(p) for p in parts[1:]]
    return (
        all(f in SUPPORTED_FLAGS[protocol] for f in flags) and len(set(parts[1:])) == len(parts) - 1
    )


def listed_models(protocol: str) -> list[str]:
    return list(LISTED[protocol])
