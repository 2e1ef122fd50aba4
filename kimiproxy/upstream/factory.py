"""Choosing the upstream client: ``connect`` or ``rest``, as the settings say."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimiproxy.upstream.base import UpstreamClient

if TYPE_CHECKING:
    from kimiproxy.accounts.directory import AccountDirectory
    from kimiproxy.settings import Settings


def make_client(settings: Settings, directory: AccountDirectory | None = None) -> UpstreamClient:
    """Build the client for ``settings.protocol`` (``connect`` or ``rest``), keeping tokens in
    ``directory``'s account store (by default, one opened from the settings).

    Only the chosen client is imported, so importing :mod:`kimiproxy.upstream` stays cheap.
    """
    protocol = settings.protocol
    if protocol == "connect":
        from kimiproxy.upstream.connect.client import ConnectClient

        return ConnectClient(settings, directory=directory)
    if protocol == "rest":
        from kimiproxy.upstream.rest.client import RestClient

        return RestClient(settings, directory=directory)
    raise ValueError(f"unknown KIMIPROXY_PROTOCOL {protocol!r}; use 'connect' or 'rest'")
