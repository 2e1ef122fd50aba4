"""Selection strategies: the built-in ``random``, ``round-robin`` and ``least-busy``, chosen by
``KIMIPROXY_STRATEGY``, and a plugin's own, declared with ``kimiproxy_selection_strategies``."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kimiproxy_plugins import least_busy, random_credential, round_robin

from kimiproxy import hookimpl, testing
from kimiproxy.accounts import POOL
from kimiproxy.accounts.directory import pool_credential
from kimiproxy.settings import SettingsError

POOL_SETTINGS = {"API_KEYS": "key-1", "KIMI_TOKENS": "tok-a,tok-b,tok-c"}


def pool_order(app) -> list[str]:
    """The pool's credentials in the order requests list them."""
    store = app.extensions["kimiproxy"].store
    return [pool_credential(a.fingerprint) for a in store.list_accounts(source=POOL)]


def chosen(app, client: testing.ScriptedClient, requests: int) -> list[str]:
    for _ in range(requests):
        body = testing.chat(app, "hi", token="key-1")
        assert body["choices"][0]["message"]["content"] == "Hello there", body
    return [turn.credential for turn in client.turns]


def test_round_robin_takes_the_pool_in_turn_across_requests():
    client = testing.ScriptedClient()
    app = testing.make_app(settings={**POOL_SETTINGS, "STRATEGY": "round-robin"}, client=client)
    order = pool_order(app)
    assert len(order) == 3
    assert chosen(app, client, 7) == [*order, *order, order[0]]


def test_round_robin_skips_what_is_excluded_and_keeps_going_round():
    assert round_robin.next_in_turn(["a", "b", "c"], set(), None) == "a"
    assert round_robin.next_in_turn(["a", "b", "c"], {"b"}, "a") == "c"
    assert round_robin.next_in_turn(["a", "b", "c"], set(), "c") == "a"
    assert round_robin.next_in_turn(["a", "b", "c"], set(), "gone") == "a"
    assert round_robin.next_in_turn(["a", "b"], {"a", "b"}, "a") is None


def test_round_robin_keeps_a_turn_per_app():
    first, second = testing.ScriptedClient(), testing.ScriptedClient()
    settings = {**POOL_SETTINGS, "STRATEGY": "round-robin"}
    app_one = testing.make_app(settings=settings, client=first)
    app_two = testing.make_app(settings=settings, client=second)
    chosen(app_one, first, 2)
    assert chosen(app_two, second, 1) == pool_order(app_two)[:1]


class FakeLeases:
    """What selection plugins may ask of the leases, answered from dicts."""

    def __init__(self, in_flight: dict[str, int], last_started: dict[str, float]):
        self._in_flight = in_flight
        self._last_started = last_started

    def in_flight(self, credential: str) -> int:
        return self._in_flight.get(credential, 0)

    def last_started(self, credential: str) -> float:
        return self._last_started.get(credential, 0.0)


def context_for(strategy: str) -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(strategy=strategy))


def test_least_busy_takes_the_fewest_in_flight_then_the_least_recently_used():
    select = least_busy.kimiproxy_select_credential
    context = context_for("least-busy")
    leases = FakeLeases({"a": 2, "b": 1, "c": 1, "d": 0}, {"b": 50.0, "c": 10.0})
    assert select(["a", "b", "c", "d"], {"d"}, context, leases) == "c"
    assert select(["a", "b", "c", "d"], set(), context, leases) == "d"
    assert select(["a", "b"], set(), context, FakeLeases({}, {"a": 5.0, "b": 5.0})) == "a"
    assert select(["a", "b"], {"a", "b"}, context, leases) is None


def test_each_built_in_answers_only_for_its_own_strategy():
    leases = FakeLeases({}, {})
    for name, select in [
        ("random", random_credential.kimiproxy_select_credential),
        ("round-robin", round_robin.kimiproxy_select_credential),
        ("least-busy", least_busy.kimiproxy_select_credential),
    ]:
        arguments = {"credentials": ["a"], "excluded": set(), "leases": leases}
        if select is random_credential.kimiproxy_select_credential:
            del arguments["leases"]
        assert select(**arguments, context=context_for(name)) == "a"
        assert select(**arguments, context=context_for("someone-else")) is None


def test_least_busy_through_the_app_spreads_requests_in_lru_order():
    client = testing.ScriptedClient()
    app = testing.make_app(settings={**POOL_SETTINGS, "STRATEGY": "least-busy"}, client=client)
    order = pool_order(app)
    assert chosen(app, client, 4) == [*order, order[0]]


def test_an_unknown_strategy_stops_the_start_naming_the_variable():
    with pytest.raises(SettingsError) as caught:
        testing.make_app(settings={"STRATEGY": "fastest"})
    message = str(caught.value)
    assert message.startswith("KIMIPROXY_STRATEGY: must be one of least-busy, random, round-robin")
    assert "'fastest'" in message and "\n" not in message


def test_disabling_the_random_plugin_takes_its_name_away():
    with pytest.raises(SettingsError, match="KIMIPROXY_STRATEGY"):
        testing.make_app(settings={"DISABLE_PLUGINS": "random_credential"})
    app = testing.make_app(
        settings={"DISABLE_PLUGINS": "random_credential", "STRATEGY": "round-robin"}
    )
    assert testing.chat(app, "hi")["choices"][0]["message"]["content"] == "Hello there"


class Sticky:
    """A third-party strategy: always the last usable account."""

    @hookimpl
    def kimiproxy_selection_strategies(self) -> list[str]:
        return ["last-one"]

    @hookimpl
    def kimiproxy_select_credential(self, credentials, excluded, context) -> str | None:
        if context.settings.strategy != "last-one":
            return None
        usable = [c for c in credentials if c not in excluded]
        return usable[-1] if usable else None


def test_hook_selection_strategies_lets_a_plugin_add_a_strategy_by_name():
    client = testing.ScriptedClient()
    app = testing.make_app(plugins=[Sticky()], settings={"STRATEGY": "last-one"}, client=client)
    testing.chat(app, "hi", token="tok-a,tok-b,tok-c")
    testing.chat(app, "hi", token="tok-a,tok-b,tok-c")
    assert [turn.credential for turn in client.turns] == ["tok-c", "tok-c"]
    # Not chosen: the plugin stays out of the way, and the default strategy answers.
    other = testing.ScriptedClient()
    testing.chat(testing.make_app(plugins=[Sticky()], client=other), "hi", token="tok-a")
    assert [turn.credential for turn in other.turns] == ["tok-a"]


def test_hook_selection_strategies_names_must_be_hyphenated_words():
    class BadName:
        @hookimpl
        def kimiproxy_selection_strategies(self) -> list[str]:
            return ["Fast Lane"]

    with pytest.raises(SettingsError, match="^KIMIPROXY_STRATEGY: a plugin declares"):
        testing.make_app(plugins=[BadName()])


def test_hook_selection_strategies_a_plugin_can_replace_a_built_in():
    class Reversed:
        @hookimpl
        def kimiproxy_selection_strategies(self) -> list[str]:
            return ["round-robin"]

        @hookimpl
        def kimiproxy_select_credential(self, credentials, excluded, context) -> str | None:
            usable = [c for c in credentials if c not in excluded]
            return usable[-1] if usable and context.settings.strategy == "round-robin" else None

    client = testing.ScriptedClient()
    app = testing.make_app(
        plugins=[Reversed()], settings={"STRATEGY": "round-robin"}, client=client
    )
    testing.chat(app, "hi", token="tok-a,tok-b")
    testing.chat(app, "hi", token="tok-a,tok-b")
    assert [turn.credential for turn in client.turns] == ["tok-b", "tok-b"]
