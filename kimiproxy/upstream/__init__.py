"""Clients for the two generations of the Kimi web protocol, behind one interface."""

from kimiproxy.upstream.base import ChatTurn, UpstreamClient, make_client

__all__ = ["ChatTurn", "UpstreamClient", "make_client"]
