"""Turn a scenario and a stream mode into a job: the plain JSON every runner executes.

The same job goes to the raw HTTP capture, the Python SDK runner and (as JSON on stdin) the Node
runner, so the three send the same requests. Placeholders ``{model}`` (the ``--model`` option)
and ``{i}`` (the index of a concurrent request, from 0) are filled in here.
"""

from __future__ import annotations

import copy

from .config import PLACEHOLDER_API_KEY, SuiteConfig
from .scenario import Scenario

CHAT_PATH = "/chat/completions"


def fill(value: object, values: dict[str, str]) -> object:
    """Replace ``{name}`` placeholders in every string of a JSON value."""
    if isinstance(value, str):
        for name, text in values.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    return value


def build_job(scenario: Scenario, mode: str, config: SuiteConfig) -> dict:
    """The job for one scenario in one mode (``stream`` or ``non-stream``)."""
    stream = scenario.operation == "chat" and mode == "stream"
    requests: list[dict] = []
    raw_bodies: list[str | None] = []
    for index in range(scenario.concurrency):
        values = {"model": config.model, "i": str(index)}
        request = fill(copy.deepcopy(scenario.request), values)
        if scenario.operation == "chat" and scenario.call == "create":
            request.setdefault("model", config.model)
        if stream and scenario.raw_body is None:
            request["stream"] = True
        requests.append(request)
        raw_bodies.append(
            fill(scenario.raw_body, values) if scenario.raw_body is not None else None
        )
    if scenario.auth == "invalid":
        api_key = config.invalid_api_key
    else:
        api_key = config.api_key or PLACEHOLDER_API_KEY
    return {
        "id": f"{scenario.name}[{mode}]",
        "scenario": scenario.name,
        "operation": scenario.operation,
        "call": scenario.call,
        "path": CHAT_PATH,
        "model_id": fill(scenario.model_id, {"model": config.model}) if scenario.model_id else None,
        "requests": requests,
        "raw_bodies": raw_bodies,
        "auth": scenario.auth,
        "api_key": api_key,
        "base_url": config.base_url,
        "stream": stream,
        "timeout": float(scenario.client.get("timeout", config.timeout)),
        "max_retries": int(scenario.client.get("max_retries", 0)),
        "concurrency": scenario.concurrency,
    }
