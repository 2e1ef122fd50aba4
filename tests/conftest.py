"""Shared fixtures: the Kimi emulator and kimiproxy as real gunicorn processes on loopback, each
writing its log to the run's log directory, which is scanned for secrets when the run ends."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import requests

from kimiproxy.hosting.processes import free_port, start_emulator, start_proxy, stop
from tests.secret_scan import SecretScan

TEST_TOKEN = "test-refresh-token"


PROTOCOLS = ["connect", "rest"]


@dataclass
class Emulator:
    """A running emulator and its control API."""

    url: str

    def _get(self, what: str) -> list[dict]:
        response = requests.get(f"{self.url}/_emulator/{what}", timeout=5)
        response.raise_for_status()
        return response.json()[what]

    def calls(self) -> list[dict]:
        return self._get("calls")

    def chats(self) -> list[dict]:
        return self._get("chats")

    def files(self) -> list[dict]:
        return self._get("files")

    def reset(self) -> None:
        requests.post(f"{self.url}/_emulator/reset", timeout=5).raise_for_status()

    def fault(self, name: str, times: int = 1) -> None:
        requests.post(
            f"{self.url}/_emulator/faults", json={"fault": name, "times": times}, timeout=5
        ).raise_for_status()

    def undeleted_chats(self) -> list[dict]:
        return [chat for chat in self.chats() if not chat["deleted"]]


@dataclass
class Proxy:
    """A running kimiproxy in front of the emulator."""

    url: str
    protocol: str
    env: dict = field(default_factory=dict)
    scan: SecretScan | None = None

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def client(self, api_key: str = TEST_TOKEN, **options):
        from openai import OpenAI

        if self.scan is not None:
            self.scan.add_credentials(api_key)
        options.setdefault("max_retries", 0)
        options.setdefault("timeout", 30)
        return OpenAI(base_url=self.base_url, api_key=api_key, **options)


SCAN = pytest.StashKey[SecretScan]()


@pytest.fixture(scope="session")
def secret_scan(request, tmp_path_factory) -> SecretScan:
    """The run's log directory and the secrets no line of it may hold (see ``secret_scan.py``):
    give every process a test starts ``log=secret_scan.log_file(name)``, and add the secrets it
    is given."""
    scan = SecretScan(tmp_path_factory.mktemp("process-logs"))
    scan.add(TEST_TOKEN)
    request.config.stash[SCAN] = scan
    return scan


PROBLEMS = pytest.StashKey[list[str]]()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a log line of a process the tests started holds a secret, or if a
    process left an empty log (then the scan would have seen nothing of it)."""
    scan = session.config.stash.get(SCAN, None)
    if scan is None:
        return
    problems = [f"{leak} (a secret in a log line)" for leak in scan.leaks()]
    problems += [f"{p.name}: empty log" for p in scan.log_files() if not p.stat().st_size]
    session.config.stash[PROBLEMS] = problems
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    scan, problems = config.stash.get(SCAN, None), config.stash.get(PROBLEMS, None)
    if scan is None or problems is None:
        return
    terminalreporter.write_line(
        f"secret scan: {len(scan.log_files())} process logs, {len(scan.secrets)} secrets, "
        f"{len(problems)} problems ({scan.log_dir})"
    )
    for problem in problems:
        terminalreporter.write_line(f"secret scan: {problem}", red=True)
    if problems:
        terminalreporter.write_sep("=", "the secret scan failed: the run fails", red=True)


@pytest.fixture(autouse=True)
def _own_state(tmp_path_factory, monkeypatch):
    """Every app a test builds in-process keeps its account state in a directory of its own."""
    monkeypatch.setenv("KIMIPROXY_DATA_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def emulator(secret_scan):
    port = free_port()
    process = start_emulator(port, log=secret_scan.log_file("emulator"))
    url = f"http://127.0.0.1:{port}"
    try:
        yield Emulator(url)
    finally:
        try:
            secret_scan.collect_from_emulator(url)
        finally:
            stop(process)


@pytest.fixture(scope="session")
def proxy_factory(emulator, secret_scan):
    """``proxy_factory(protocol, **env)`` starts (once per distinct settings) a proxy."""
    started: dict[tuple, tuple[Proxy, object]] = {}

    def factory(protocol: str = "connect", **env: str) -> Proxy:
        key = (protocol, tuple(sorted(env.items())))
        if key not in started:
            settings = {
                "KIMIPROXY_UPSTREAM": emulator.url,
                "KIMIPROXY_PROTOCOL": protocol,
                "KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS": "false",
                # Everything a proxy logs is scanned for secrets: let it log everything.
                "KIMIPROXY_LOG_LEVEL": "DEBUG",
                **env,
            }
            secret_scan.add_settings(settings)
            port = free_port()
            process = start_proxy(port, settings, log=secret_scan.log_file(f"proxy-{protocol}"))
            proxy = Proxy(f"http://127.0.0.1:{port}", protocol, settings, secret_scan)
            started[key] = (proxy, process)
        return started[key][0]

    try:
        yield factory
    finally:
        for _, process in started.values():
            stop(process)


@pytest.fixture(params=PROTOCOLS)
def proxy(request, proxy_factory, emulator) -> Proxy:
    """kimiproxy for each protocol, ``connect`` and ``rest``, with the emulator's record cleared."""
    emulator.reset()
    return proxy_factory(request.param)


@pytest.fixture
def client(proxy, request):
    """An SDK client on an account of the test's own, so that what one test does to an account
    (Kimi throttling it, say) does not follow the next test."""
    return proxy.client(api_key=f"{TEST_TOKEN}-{abs(hash(request.node.nodeid)):x}")
