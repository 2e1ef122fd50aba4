"""The file-input settings of one app, read once from the config dict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kimiproxy.inputs.address_guard import AllowList, parse_allow_list


@dataclass(frozen=True)
class FetchSettings:
    """Limits for fetching and decoding file parts (``KIMIPROXY_MAX_FILE_BYTES``, ``FETCH_*``)."""

    max_bytes: int = 100 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    max_redirects: int = 5
    allow: AllowList = AllowList()

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> FetchSettings:
        """Build from the app's settings; raises ``ValueError`` for a bad ``FETCH_ALLOW``."""
        defaults = cls()
        return cls(
            max_bytes=int(config.get("MAX_FILE_BYTES", defaults.max_bytes)),
            connect_timeout=float(config.get("FETCH_CONNECT_TIMEOUT", defaults.connect_timeout)),
            read_timeout=float(config.get("FETCH_READ_TIMEOUT", defaults.read_timeout)),
            total_timeout=float(config.get("FETCH_TOTAL_TIMEOUT", defaults.total_timeout)),
            max_redirects=int(config.get("FETCH_MAX_REDIRECTS", defaults.max_redirects)),
            allow=parse_allow_list(str(config.get("FETCH_ALLOW") or "")),
        )


def describe_size(size: int) -> str:
    """``104857600`` → ``"100 MB (104857600 bytes)"``; small sizes stay in bytes."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            amount = size / factor
            text = f"{amount:.0f}" if amount == int(amount) else f"{amount:.1f}"
            return f"{text} {unit} ({size} bytes)"
    return f"{size} bytes"
