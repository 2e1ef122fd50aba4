"""The settings of one suite run: where the server is, which key and model, which SDKs and modes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .scenario import MODES, SDKS
from .schema import SchemaSet
from .selection import Selection

# kimiproxy in front of the bundled emulator takes any key as a Kimi token except those that
# start with "invalid"; the first is the default key, the second the one that must get a 401.
PLACEHOLDER_API_KEY = "conformance-placeholder-token"
INVALID_API_KEY = "invalid-conformance-key"
DEFAULT_MODEL = "kimi"
DEFAULT_TIMEOUT = 60.0


def default_api_key(environ: Mapping[str, str] | None = None) -> str:
    """``$OPENAI_API_KEY`` when set, else the placeholder the emulator accepts."""
    environ = os.environ if environ is None else environ
    return environ.get("OPENAI_API_KEY") or PLACEHOLDER_API_KEY


@dataclass
class SuiteConfig:
    """Everything a run needs besides the scenarios.

    ``timeout`` is the client timeout in seconds for scenarios that set none, ``schemas`` the
    loaded OpenAPI validators (``None`` skips the schema checks), ``node`` the Node.js binary and
    ``node_modules`` a folder holding the ``openai`` npm package (default: beside ``runner.mjs``).
    """

    base_url: str
    api_key: str = field(default_factory=default_api_key)
    invalid_api_key: str = INVALID_API_KEY
    model: str = DEFAULT_MODEL
    sdks: tuple[str, ...] = SDKS
    modes: tuple[str, ...] = MODES
    selection: Selection = field(default_factory=Selection)
    timeout: float = DEFAULT_TIMEOUT
    schemas: SchemaSet | None = None
    node: str | None = None
    node_modules: Path | None = None

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        bad_sdks = set(self.sdks) - set(SDKS)
        if bad_sdks:
            raise ValueError(f"unknown SDK {sorted(bad_sdks)}; choose from {list(SDKS)}")
        bad_modes = set(self.modes) - set(MODES)
        if bad_modes:
            raise ValueError(f"unknown mode {sorted(bad_modes)}; choose from {list(MODES)}")
