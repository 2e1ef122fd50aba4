"""The file-input settings of one app, taken from its :class:`~kimiproxy.settings.Settings`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kimiproxy.allow_list import AllowList

if TYPE_CHECKING:
    from kimiproxy.settings import Settings


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
    def from_settings(cls, settings: Settings) -> FetchSettings:
        """The file-input part of the app's settings."""
        return cls(
            max_bytes=settings.max_file_bytes,
            connect_timeout=settings.fetch_connect_timeout,
            read_timeout=settings.fetch_read_timeout,
            total_timeout=settings.fetch_total_timeout,
            max_redirects=settings.fetch_max_redirects,
            allow=settings.fetch_allow,
        )


def describe_size(size: int) -> str:
    """``104857600`` → ``"100 MB (104857600 bytes)"``; small sizes stay in bytes."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            amount = size / factor
            text = f"{amount:.0f}" if amount == int(amount) else f"{amount:.1f}"
            return f"{text} {unit} ({size} bytes)"
    return f"{size} bytes"
