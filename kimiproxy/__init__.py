"""kimiproxy: an OpenAI-compatible API for the Kimi web chat.

Plugins implement hooks with ``from kimiproxy import hookimpl`` (see docs/plugins.md); the app
comes from ``kimiproxy.create_app(config, client, plugins)``, and :mod:`kimiproxy.testing` builds
one for tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from flask import Flask

    from kimiproxy.settings import Settings
    from kimiproxy.upstream import UpstreamClient

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("kimiproxy")


def create_app(
    config: Mapping[str, object] | Settings | None = None,
    client: UpstreamClient | None = None,
    plugins: Iterable[object] = (),
) -> Flask:
    """Build the Flask app: see :func:`kimiproxy.api.app.create_app` (imported lazily so that
    plugins can import ``hookimpl`` cheaply)."""
    from kimiproxy.api.app import create_app as _create_app

    return _create_app(config, client, plugins)


__all__ = ["__version__", "create_app", "hookimpl"]
