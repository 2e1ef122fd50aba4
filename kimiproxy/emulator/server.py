"""Serving the emulator on its own: gunicorn with one gevent worker, so streams are real."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from kimiproxy.emulator.options import merge_options


class _EmulatorServer(BaseApplication):
    def __init__(self, bind: str, options: dict | None) -> None:
        self._bind = bind
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", self._bind)
        # State is per process, so exactly one worker; gevent lets many streams share it.
        self.cfg.set("workers", 1)
        self.cfg.set("worker_class", "gevent")
        self.cfg.set("timeout", 120)

    def load(self):
        # Built in the worker, after gevent has patched the standard library.
        from kimiproxy.emulator import create_emulator_app

        return create_emulator_app(self._options)


def serve(host: str = "127.0.0.1", port: int = 8701, options: dict | None = None) -> None:
    """Run the emulator in the foreground until interrupted.

    ``options`` are those of ``create_emulator_app``; they are checked here, before gunicorn
    starts, so a bad one is a ``ValueError`` rather than a worker that fails to boot.
    """
    merge_options(options)
    _EmulatorServer(f"{host}:{port}", dict(options or {})).run()
