"""Clients for the two Kimi web protocols, ``connect`` and ``rest``, behind one interface."""

from kimiproxy.upstream.base import ChatTurn, UpstreamClient
from kimiproxy.upstream.factory import make_client

__all__ = ["ChatTurn", "UpstreamClient", "make_client"]
