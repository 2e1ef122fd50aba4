"""kimiproxy: an OpenAI-compatible API for the Kimi web chat.

Plugins implement hooks with ``from kimiproxy import hookimpl``; the app comes from
``kimiproxy.create_app(config)``.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("kimiproxy")


def create_app(config=None, client=None):
    """Build the Flask app (imported lazily so plugins can import ``hookimpl`` cheaply)."""
    from kimiproxy.api.app import create_app as _create_app

    return _create_app(config, client)


__all__ = ["__version__", "create_app", "hookimpl"]
