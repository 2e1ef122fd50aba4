"""What a turn asks Kimi for besides its text: search, research, thinking, math, an agent.

The chat core reads it out of an OpenAI model name (:mod:`kimiproxy.chat.model_names`); each
client turns it into its protocol's fields.
"""

from __future__ import annotations

from dataclasses import dataclass

FEATURES = ("search", "research", "thinking", "math", "silent")


@dataclass(frozen=True)
class ModelSpec:
    """The Kimi features a model name asks for; ``agent_id`` is a Kimi+ agent to talk to."""

    name: str
    search: bool = False
    research: bool = False
    thinking: bool = False
    math: bool = False
    silent: bool = False
    agent_id: str | None = None

    @property
    def flags(self) -> set[str]:
        return {f for f in FEATURES if getattr(self, f)}
