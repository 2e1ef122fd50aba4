"""Fixed answers of the ``connect`` configuration and subscription RPCs."""

from __future__ import annotations

import copy

_INSTANT = {
    "key": "k2d6",
    "scenario": "SCENARIO_K2D5",
    "displayName": "K2.6 Instant",
    "description": "Quick answers for everyday questions",
    "thinking": False,
    "kimiPlusId": "",
    "agentMode": "",
}
_MODELS = [
    _INSTANT,
    {
        "key": "k2d6-thinking",
        "scenario": "SCENARIO_K2D5",
        "displayName": "K2.6 Thinking",
        "description": "Thinks step by step before answering",
        "thinking": True,
        "kimiPlusId": "",
        "agentMode": "",
    },
    {
        "key": "k2d6-agent",
        "scenario": "SCENARIO_OK_COMPUTER",
        "displayName": "K2.6 Agent",
        "description": "Research, websites, documents and slides",
        "thinking": True,
        "kimiPlusId": "ok-computer",
        "agentMode": "TYPE_NORMAL",
    },
    {
        "key": "k2d6-agent-ultra",
        "scenario": "SCENARIO_OK_COMPUTER",
        "displayName": "K2.6 Agent Swarm",
        "description": "Large tasks split across many agents",
        "thinking": True,
        "kimiPlusId": "ok-computer",
        "agentMode": "TYPE_ULTRA",
    },
]


def available_models() -> dict:
    """``GetAvailableModels``: the K2.6 Instant / Thinking / Agent / Agent Swarm fixture."""
    return {"availableModels": copy.deepcopy(_MODELS), "defaultScenario": copy.deepcopy(_INSTANT)}


def subscription(account: str) -> dict:
    """``GetSubscription`` for a free account (clients use it only as a token check)."""
    return {
        "subscription": {
            "userId": account,
            "goods": {"title": "Free", "membershipLevel": "LEVEL_FREE"},
            "status": "SUBSCRIPTION_STATUS_INACTIVE",
        },
        "subscribed": False,
    }
