"""Logging for a running kimiproxy: one format on stderr for the app's own loggers, set by the
command line and gunicorn's configuration (never by the app factory, so embedding the app
leaves the host's logging alone)."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Send log records at ``level`` and above to stderr in kimiproxy's format."""
    logging.basicConfig(level=level, format=FORMAT)
    logging.getLogger("kimiproxy").setLevel(level)
