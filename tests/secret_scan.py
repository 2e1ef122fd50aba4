"""The check that no log line of a test run carries a secret.

Every proxy (and emulator) the tests start writes its output to a file of the run's log
directory. The scan learns the secrets of the run as it goes: every token an emulator issued or
was shown (``GET /_emulator/tokens``, read before the emulator stops), the API keys and tokens
the tests configure or send. At the end it reads every log line and reports each one that holds
such a secret, or anything shaped like a JWT (every Kimi access token is one, so this also
catches a token the book never saw). ``tests/conftest.py`` fails the run when it finds one.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import requests

# Shorter "tokens" (``tok``, ``x``) are words that appear in ordinary log lines; no real token is
# that short.
MIN_SECRET_LENGTH = 12
JWT = re.compile(r"eyJ[\w-]{6,}\.eyJ[\w-]{6,}\.[\w-]*")
# Settings whose values are secrets, comma-separated lists of them.
SECRET_SETTINGS = (
    "KIMIPROXY_API_KEYS",
    "KIMIPROXY_KIMI_TOKENS",
    "KIMIPROXY_OPERATOR_KEYS",
    "KIMIPROXY_SECRET_KEY",
)


@dataclass(frozen=True)
class Leak:
    """A log line that holds a secret; ``what`` says which kind, never the secret itself."""

    path: Path
    line_number: int
    what: str

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line_number}: {self.what}"


@dataclass
class SecretScan:
    """The run's log directory and the secrets its log lines must not hold."""

    log_dir: Path
    secrets: set[str] = field(default_factory=set)
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    def log_file(self, name: str) -> Path:
        """A new log file for one process (``proxy``, ``emulator``...)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{next(self._numbers):03d}-{name}.log"

    def add(self, *secrets: str | None) -> None:
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_LENGTH:
                self.secrets.add(secret)

    def add_credentials(self, bearer_value: str) -> None:
        """The tokens of a bearer value (``T1,T2``) and the value itself."""
        self.add(bearer_value, *(part.strip() for part in bearer_value.split(",")))

    def add_settings(self, env: dict[str, str]) -> None:
        for name in SECRET_SETTINGS:
            if env.get(name):
                self.add_credentials(env[name])

    def collect_from_emulator(self, url: str) -> None:
        """Every token the emulator at ``url`` issued or was shown; call it before it stops."""
        response = requests.get(f"{url}/_emulator/tokens", timeout=10)
        response.raise_for_status()
        self.add(*response.json()["tokens"])

    def log_files(self) -> list[Path]:
        return sorted(self.log_dir.glob("*.log")) if self.log_dir.is_dir() else []

    def leaks(self) -> list[Leak]:
        """Every log line holding a secret or a JWT, at most one report per line."""
        found: dict[tuple[Path, int], Leak] = {}
        for path in self.log_files():
            text = path.read_text(encoding="utf-8", errors="replace")
            hits = [(m.start(), "a JWT") for m in JWT.finditer(text)]
            for secret in self.secrets:
                start = text.find(secret)
                while start != -1:
                    hits.append((start, "a token or key of the run"))
                    start = text.find(secret, start + 1)
            for offset, what in hits:
                number = text.count("\n", 0, offset) + 1
                found.setdefault((path, number), Leak(path, number, what))
        return sorted(found.values(), key=lambda leak: (leak.path, leak.line_number))
