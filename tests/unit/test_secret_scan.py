"""The run's secret scan (``tests/secret_scan.py``) finds what it must and nothing else."""

from __future__ import annotations

from tests.secret_scan import SecretScan

JWT = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ1c2VyLTEifQ.signature"


def _scan(tmp_path, *lines: str) -> SecretScan:
    scan = SecretScan(tmp_path / "logs")
    scan.log_file("proxy").write_text("".join(f"{line}\n" for line in lines))
    return scan


def test_a_clean_log_has_no_leaks(tmp_path):
    scan = _scan(tmp_path, "INFO account 3f2a9c01bd: cooling down", '127.0.0.1 "GET /ping" 200')
    scan.add("a-client-refresh-token-1234")
    assert scan.leaks() == []


def test_a_token_of_the_run_is_found_wherever_it_is_on_the_line(tmp_path):
    token = "a-client-refresh-token-1234"
    scan = _scan(tmp_path, "fine", f"refreshing with{token}!", "fine", f"x={token},{token}")
    scan.add(token)
    leaks = scan.leaks()
    assert [leak.line_number for leak in leaks] == [2, 4]
    assert all(token not in str(leak) for leak in leaks)


def test_any_jwt_is_a_leak_even_one_the_run_never_saw(tmp_path):
    (leak,) = _scan(tmp_path, "ok", f"Bearer {JWT}").leaks()
    assert leak.line_number == 2 and leak.what == "a JWT"


def test_credentials_and_secret_settings_are_split_into_tokens(tmp_path):
    scan = _scan(tmp_path, "first-token-of-two alone")
    scan.add_credentials("first-token-of-two,second-token-of-two")
    scan.add_settings({"KIMIPROXY_API_KEYS": "sk-operator-key-1", "KIMIPROXY_PROTOCOL": "rest"})
    assert {"first-token-of-two", "second-token-of-two", "sk-operator-key-1"} <= scan.secrets
    assert "rest" not in scan.secrets
    assert len(scan.leaks()) == 1


def test_short_words_are_not_taken_for_tokens(tmp_path):
    scan = _scan(tmp_path, "token refreshed")
    scan.add("tok", "token")
    assert scan.secrets == set() and scan.leaks() == []
