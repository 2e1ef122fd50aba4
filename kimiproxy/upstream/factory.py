"""Choosing the upstream client: ``connect`` or ``rest``, as the settings say."""

from __future__ import annotations

from kimiproxy.upstream.base import UpstreamClient


def make_client(config: dict) -> UpstreamClient:
    """Build the client for ``config["PROTOCOL"]`` (``connect`` or ``rest``).

    Only the chosen client is imported, so importing :mod:`kimiproxy.upstream` stays cheap.
    """
    protocol = config["PROTOCOL"]
    if protocol == "connect":
        from kimiproxy.upstream.connect.client import ConnectClient

        return ConnectClient(config)
    if protocol == "rest":
        from kimiproxy.upstream.rest.client import RestClient

        return RestClient(config)
    raise ValueError(f"unknown KIMIPROXY_PROTOCOL {protocol!r}; use 'connect' or 'rest'")
