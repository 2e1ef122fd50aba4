"""The refresh record: conflicts between holders of one refresh token (overlapping or stale
refreshes), the grace window, the hanging refresh, minted sessions, and no token in any record."""

from __future__ import annotations

import json
import threading
import time

import pytest

from kimiproxy.emulator.tokens import fingerprint, user_id_for


def _together(app, calls: list) -> list:
    """Run each ``call(client)`` in its own thread with its own client, all at once; their
    responses in the same order."""
    results: list = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        results[index] = calls[index](client)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_a_stale_refresh_is_a_conflict(emu):
    new = emu.rotate("alice-refresh").json["refreshToken"]
    assert emu.rotate("alice-refresh").status_code == 401
    listing = emu.refreshes()
    assert listing["conflicts"] == 1
    rotated, stale = listing["refreshes"]
    assert rotated["outcome"] == "rotated" and rotated["status"] == 200
    assert rotated["token"] == fingerprint("alice-refresh")
    assert rotated["new_token"] == fingerprint(new)
    assert stale["outcome"] == "conflict" and stale["status"] == 401
    assert stale["reason"] == "the token was rotated out" and stale["overlap"] is False
    assert rotated["account"] == stale["account"] == user_id_for("alice-refresh")
    assert rotated["session"] == stale["session"]
    assert rotated["path"] == "/api/account.gateway.v1.AuthService/RefreshToken"
    assert rotated["started_at"] <= rotated["finished_at"] <= stale["started_at"]


def test_a_clean_chain_of_refreshes_has_no_conflicts(emu):
    token = "alice-refresh"
    for _ in range(4):
        token = emu.rotate(token).json["refreshToken"]
    listing = emu.refreshes()
    assert listing["conflicts"] == 0
    assert [r["outcome"] for r in listing["refreshes"]] == ["rotated"] * 4
    chain = [r["token"] for r in listing["refreshes"]] + [fingerprint(token)]
    assert [r["new_token"] for r in listing["refreshes"]] == chain[1:]


@pytest.mark.parametrize("options", [{"refresh_delay": 0.3}])
def test_overlapping_refreshes_of_one_token_conflict(emu, app):
    first, second = _together(app, [lambda c: emu.rotate("alice-refresh", c)] * 2)
    assert sorted([first.status_code, second.status_code]) == [200, 401]
    winner = first if first.status_code == 200 else second
    listing = emu.refreshes()
    assert listing["conflicts"] == 1
    records = {r["outcome"]: r for r in listing["refreshes"]}
    assert set(records) == {"rotated", "conflict"}
    assert records["conflict"]["overlap"] is True
    assert records["conflict"]["reason"] == "another refresh is running"
    assert records["rotated"]["new_token"] == fingerprint(winner.json["refreshToken"])
    # they overlapped in time, and each took the delay
    rotated, conflict = records["rotated"], records["conflict"]
    assert conflict["started_at"] < rotated["finished_at"]
    assert rotated["started_at"] < conflict["finished_at"]
    assert rotated["finished_at"] - rotated["started_at"] >= 0.3
    # the winner's token carries on
    assert emu.rotate(winner.json["refreshToken"]).status_code == 200


@pytest.mark.parametrize("options", [{"refresh_delay": 0.3}])
def test_overlapping_refreshes_of_different_accounts_do_not_conflict(emu, app):
    calls = [lambda c: emu.rotate("alice-refresh", c), lambda c: emu.rotate("bob-refresh", c)]
    started = time.monotonic()
    responses = _together(app, calls)
    assert [r.status_code for r in responses] == [200, 200]
    assert time.monotonic() - started < 0.55  # the delays ran side by side
    assert emu.refreshes()["conflicts"] == 0


@pytest.mark.parametrize("options", [{"refresh_delay": 0.3}])
def test_overlapping_gets_that_keep_the_token_both_answer_but_count(emu, app):
    responses = _together(app, [lambda c: emu.legacy_refresh("alice-refresh", c)] * 2)
    assert [r.status_code for r in responses] == [200, 200]
    listing = emu.refreshes()
    assert [r["outcome"] for r in listing["refreshes"]] == ["kept", "kept"]
    assert sorted(r["overlap"] for r in listing["refreshes"]) == [False, True]
    assert listing["conflicts"] == 1


@pytest.mark.parametrize("options", [{"refresh_delay": 0.3}])
def test_a_get_during_a_rotation_of_its_token_conflicts(emu, app):
    def late_get(client):
        time.sleep(0.1)  # while the rotation is waiting out its delay
        return emu.legacy_refresh("alice-refresh", client)

    rotation, get = _together(app, [lambda c: emu.rotate("alice-refresh", c), late_get])
    assert (rotation.status_code, get.status_code) == (200, 401)
    assert emu.refreshes()["conflicts"] == 1


@pytest.mark.parametrize("options", [{"refresh_grace": 5.0}])
def test_grace_accepts_a_rotated_out_token_once(emu):
    first = emu.rotate("alice-refresh").json
    again = emu.rotate("alice-refresh")
    assert again.status_code == 200
    # it catches up with the session instead of forking it
    assert again.json["refreshToken"] == first["refreshToken"]
    assert again.json["accessToken"] != first["accessToken"]
    third = emu.rotate("alice-refresh")
    assert third.status_code == 401
    assert emu.rotate(first["refreshToken"]).status_code == 200
    listing = emu.refreshes()
    outcomes = [r["outcome"] for r in listing["refreshes"]]
    assert outcomes == ["rotated", "grace", "conflict", "rotated"]
    assert listing["conflicts"] == 2


@pytest.mark.parametrize("options", [{"refresh_grace": 0.2}])
def test_grace_ends_after_its_window(emu):
    emu.rotate("alice-refresh")
    time.sleep(0.3)
    assert emu.rotate("alice-refresh").status_code == 401


def test_grace_is_off_by_default(emu):
    emu.rotate("alice-refresh")
    assert emu.rotate("alice-refresh").status_code == 401


@pytest.mark.parametrize("options", [{"refresh_hang_seconds": 0.3}])
def test_a_hanging_refresh_times_out_and_leaves_the_token_alone(emu):
    emu.fault("refresh_hang", times=2)
    started = time.monotonic()
    response = emu.rotate("alice-refresh")
    assert time.monotonic() - started >= 0.3
    assert (response.status_code, response.json["code"]) == (504, "deadline_exceeded")
    response = emu.legacy_refresh("alice-refresh")
    assert response.status_code == 504
    assert emu.client.get("/_emulator/faults").json["faults"] == []
    assert emu.rotate("alice-refresh").status_code == 200
    hung = emu.refreshes()["refreshes"][0]
    assert (hung["outcome"], hung["fault"], hung["status"]) == ("refused", "refresh_hang", 504)
    assert emu.refreshes()["conflicts"] == 0


def test_a_refresh_fault_waits_for_a_refresh(emu):
    token = emu.token()
    emu.fault("refresh_hang")
    response, _, _ = emu.chat_connect(token, "hi")
    assert response.status_code == 200
    queued = emu.client.get("/_emulator/faults").json["faults"]
    assert queued == [{"fault": "refresh_hang", "times": 1}]


def test_the_call_record_shows_fingerprints_not_tokens(emu):
    new = emu.rotate("secret-refresh-token").json
    emu.rotate(new["refreshToken"])
    calls = emu.client.get("/_emulator/calls").json["calls"]
    refreshes = emu.refreshes()
    dumped = json.dumps([calls, refreshes])
    for secret in ("secret-refresh-token", new["refreshToken"], new["accessToken"]):
        assert secret not in dumped
    first = calls[0]
    assert first["path"] == "/api/account.gateway.v1.AuthService/RefreshToken"
    assert first["protocol"] == "connect" and first["method"] == "POST"
    assert first["body"] == {"refresh_token": fingerprint("secret-refresh-token")}
    assert first["account"] == user_id_for("secret-refresh-token")
    assert calls[1]["account"] == user_id_for("secret-refresh-token")


def test_minted_sessions_rotate_like_any_other(emu):
    minted = emu.client.post("/_emulator/tokens", json={"account": "u-minted"}).json
    assert minted["account"] == "u-minted"
    assert emu.client.get("/api/user", headers=emu.auth(minted["accessToken"])).json["id"] == (
        "u-minted"
    )
    rotated = emu.rotate(minted["refreshToken"]).json
    assert emu.rotate(minted["refreshToken"]).status_code == 401
    # a second session of the same account is independent of the first
    other = emu.client.post("/_emulator/tokens", json={"account": "u-minted"}).json
    assert emu.rotate(other["refreshToken"]).status_code == 200
    assert emu.rotate(rotated["refreshToken"]).status_code == 200
    sessions = {r["session"] for r in emu.refreshes()["refreshes"]}
    assert len(sessions) == 2


def test_minting_without_an_account_makes_a_new_one(emu):
    first = emu.client.post("/_emulator/tokens").json
    second = emu.client.post("/_emulator/tokens", json={}).json
    assert first["account"] and first["account"] != second["account"]
    bad = emu.client.post("/_emulator/tokens", json={"account": 5})
    assert bad.status_code == 400 and "account" in bad.json["error"]
