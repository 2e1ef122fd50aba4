"""The server-held pool end to end: kimiproxy under gunicorn with two gevent workers, its Kimi
tokens in a tokens file, clients presenting API keys, in front of the emulator. Which account
answered is read from the emulator's record of chats (the account a token stands for)."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from pathlib import Path

import openai
import pytest
import requests

from kimiproxy.accounts import fingerprint
from kimiproxy.emulator.tokens import user_id_for
from kimiproxy.hosting.processes import free_port, start_proxy, stop, wait_ready
from tests.accounts.conftest import redis_url, require_redis_server  # noqa: F401 - a fixture
from tests.helpers import wait_until

API_KEY = "pool-client-key"
OPERATOR_KEY = "pool-operator-key"
USER = [{"role": "user", "content": "hello pool"}]


def new_token(name: str) -> str:
    """A token of this test run's own, all of one length (so a file can be rewritten in
    place with the same size)."""
    return f"{name}-{uuid.uuid4().hex}"


class PoolProxy:
    """A proxy process and what a test needs to drive it."""

    def __init__(
        self, emulator, tokens_file: Path, log: Path, protocol: str = "connect", **env: str
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "KIMIPROXY_UPSTREAM": emulator.url,
            "KIMIPROXY_PROTOCOL": protocol,
            "KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS": "false",
            "KIMIPROXY_API_KEYS": API_KEY,
            "KIMIPROXY_OPERATOR_KEYS": OPERATOR_KEY,
            "KIMIPROXY_TOKENS_FILE": str(tokens_file),
            "KIMIPROXY_STRATEGY": "round-robin",
            **env,
        }
        self.process = start_proxy(self.port, self.env, workers=2, log=log)

    def client(self, api_key: str = API_KEY) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=api_key, max_retries=0, timeout=30)

    def ask(self, content: str = "hello pool") -> str:
        answer = self.client().chat.completions.create(
            model="kimi", messages=[{"role": "user", "content": content}]
        )
        return answer.choices[0].message.content

    def accounts(self) -> list[dict]:
        response = requests.get(
            f"{self.url}/v1/accounts",
            headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["data"]

    def fingerprints(self) -> set[str]:
        return {account["fingerprint"] for account in self.accounts()}

    def workers(self) -> list[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return sorted(int(child) for child in children)


@pytest.fixture
def start(emulator, tmp_path, secret_scan):
    started: list[PoolProxy] = []

    def factory(*tokens: str, **env: str) -> tuple[PoolProxy, Path]:
        tokens_file = tmp_path / f"tokens-{len(started)}"
        tokens_file.write_text("".join(f"{t}\n" for t in tokens))
        secret_scan.add(*tokens)
        proxy = PoolProxy(emulator, tokens_file, secret_scan.log_file("proxy-pool"), **env)
        secret_scan.add_settings(proxy.env)
        started.append(proxy)
        return proxy, tokens_file

    emulator.reset()
    yield factory
    for proxy in started:
        stop(proxy.process)


def answered_by(emulator) -> list[str]:
    """The accounts the emulator's chats belong to, oldest first."""
    return [chat["account"] for chat in emulator.chats()]


def kimi_calls(emulator) -> list[dict]:
    return [call for call in emulator.calls() if call["protocol"] != "control"]


def replace_file(path: Path, text: str) -> None:
    """Write the file as an operator should: a new file renamed over the old one."""
    fresh = path.with_suffix(".new")
    fresh.write_text(text)
    os.replace(fresh, path)


@pytest.mark.parametrize("protocol", ["connect", "rest"])
def test_the_pool_answers_clients_with_a_key(start, emulator, protocol):
    first, second = new_token("alpha"), new_token("beta")
    proxy, _ = start(f"first={first}", second, protocol=protocol)
    for _ in range(4):
        assert proxy.ask() == "You said: hello pool"
    # Both accounts answered, each as itself: the pool: names never reached Kimi.
    assert set(answered_by(emulator)) == {user_id_for(first), user_id_for(second)}
    assert emulator.undeleted_chats() == []

    with pytest.raises(openai.AuthenticationError):
        proxy.client("wrong-key").chat.completions.create(model="kimi", messages=USER)
    with pytest.raises(openai.AuthenticationError):
        proxy.client(first).chat.completions.create(model="kimi", messages=USER)
    for path in ("/v1/models", "/-/plugins"):
        assert requests.get(proxy.url + path, timeout=10).status_code == 401
    checked = requests.post(proxy.url + "/token/check", json={"token": "x"}, timeout=10)
    assert checked.status_code == 401
    calls = kimi_calls(emulator)
    assert requests.get(proxy.url + "/healthz", timeout=10).json() == {"status": "ok"}
    assert requests.get(proxy.url + "/readyz", timeout=10).status_code == 200
    assert kimi_calls(emulator) == calls  # the probes asked nothing of Kimi


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_the_account_endpoints_never_show_a_token(start, backend, request):
    env = {}
    if backend == "redis":
        require_redis_server()
        env["KIMIPROXY_STATE"] = request.getfixturevalue("redis_url") + (
            f"?prefix=pool-{uuid.uuid4().hex[:8]}:"
        )
    first, added = new_token("gamma"), new_token("delta")
    proxy, _ = start(f"work={first}", **env)
    proxy.ask()
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    response = requests.post(
        f"{proxy.url}/v1/accounts",
        json={"token": added, "label": "spare"},
        headers=operator,
        timeout=10,
    )
    assert response.status_code == 201
    listing = requests.get(f"{proxy.url}/v1/accounts", headers=operator, timeout=10)
    text = listing.text
    assert first not in text and added not in text and OPERATOR_KEY not in text
    shown = {a["fingerprint"]: a for a in listing.json()["data"]}
    assert set(shown) == {fingerprint(first), fingerprint(added)}
    assert shown[fingerprint(first)]["label"] == "work"
    assert shown[fingerprint(first)]["requests"] == 1
    # Every worker sees the same store: the deletion holds whichever worker answers next.
    deleted = requests.delete(
        f"{proxy.url}/v1/accounts/{fingerprint(added)}", headers=operator, timeout=10
    )
    assert deleted.status_code == 200
    for _ in range(4):
        assert proxy.fingerprints() == {fingerprint(first)}
    missing = requests.delete(
        f"{proxy.url}/v1/accounts/{fingerprint(added)}", headers=operator, timeout=10
    )
    assert missing.status_code == 404
    assert requests.get(f"{proxy.url}/v1/accounts", timeout=10).status_code == 401


def test_a_changed_tokens_file_is_followed(start, emulator):
    old, new = new_token("old"), new_token("new")
    proxy, tokens_file = start(old)
    replace_file(tokens_file, f"{old}\n{new}\n")
    assert wait_until(lambda: fingerprint(new) in proxy.fingerprints(), timeout=15)
    for _ in range(4):
        proxy.ask()
    assert user_id_for(new) in answered_by(emulator)  # the new account is used
    replace_file(tokens_file, f"{new}\n")
    assert wait_until(lambda: proxy.fingerprints() == {fingerprint(new)}, timeout=15)
    emulator.reset()
    for _ in range(4):
        proxy.ask()
    assert set(answered_by(emulator)) == {user_id_for(new)}  # the removed one no longer


def rewrite_unnoticed(path: Path, text: str) -> None:
    """Rewrite the file in place keeping its size, inode and modification time, so that only
    a signal makes the proxy read it again."""
    before = path.stat()
    assert len(text.encode()) == before.st_size
    with open(path, "r+b") as file:
        file.write(text.encode())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_sighup_to_the_master_reloads_without_dropping_an_answer(start, emulator):
    old, new = new_token("old"), new_token("new")
    proxy, tokens_file = start(old)
    workers = proxy.workers()
    content = "a slow answer that streams for a while [[fault:slow_chunks]]"
    streamed: list[str] = []

    def slow_stream() -> None:
        stream = proxy.client().chat.completions.create(
            model="kimi", messages=[{"role": "user", "content": content}], stream=True
        )
        streamed.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))

    reader = threading.Thread(target=slow_stream)
    reader.start()
    assert wait_until(lambda: emulator.chats(), timeout=10)  # the answer has begun
    rewrite_unnoticed(tokens_file, f"{new}\n")
    proxy.process.send_signal(signal.SIGHUP)
    assert wait_until(lambda: proxy.fingerprints() == {fingerprint(new)}, timeout=20)
    reader.join(timeout=60)
    assert streamed == [f"You said: {content}"]
    assert wait_until(lambda: set(proxy.workers()).isdisjoint(workers), timeout=20)
    wait_ready(f"{proxy.url}/ping", proxy.process)
    proxy.ask()
    assert answered_by(emulator)[-1] == user_id_for(new)


def test_sighup_to_a_worker_reloads_in_place(start, emulator):
    old, new = new_token("old"), new_token("new")
    proxy, tokens_file = start(old)
    rewrite_unnoticed(tokens_file, f"{new}\n")
    workers = proxy.workers()
    assert len(workers) == 2
    for _ in range(3):  # the file looks unchanged: no worker reads it by itself
        assert proxy.fingerprints() == {fingerprint(old)}
    os.kill(workers[0], signal.SIGHUP)
    assert wait_until(lambda: proxy.fingerprints() == {fingerprint(new)}, timeout=10)
    assert proxy.workers() == workers  # neither worker was replaced
    emulator.reset()
    proxy.ask()
    assert answered_by(emulator) == [user_id_for(new)]
