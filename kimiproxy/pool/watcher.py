"""The pool and the client keys as configured, kept in step with their files.

At start-up :meth:`PoolConfig.load` reads ``KIMIPROXY_API_KEYS_FILE`` and
``KIMIPROXY_TOKENS_FILE`` (a file that cannot be read stops the start) and imports the tokens
(:mod:`kimiproxy.pool.importer`). Then a daemon thread in each worker (a greenlet under gevent)
looks at the files' size, modification time and inode every ``poll_interval`` seconds and reloads
a file once its change has held still for one look, so a file caught half-written is not taken
at its word; :meth:`request_reload` (a worker's SIGHUP) reloads both at the next look whatever
they look like. A reload swaps the keys whole and re-imports the tokens; requests in flight keep
the account they leased. A file that has gone or cannot be read keeps what was last read from
it, with a warning; an account store that does not answer is tried again at the next look.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from kimiproxy.accounts import AccountStore, StoreError
from kimiproxy.pool.importer import import_configured
from kimiproxy.pool.keys import KeySet
from kimiproxy.pool.lines import TokenEntry, parse_keys, parse_tokens
from kimiproxy.settings import Settings, SettingsError

log = logging.getLogger(__name__)
POLL_INTERVAL = 1.0  # seconds between looks at the files: a change lands within two looks


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


@dataclass
class _File:
    """One configured file and what was last made of it."""

    setting: str  # the settings field, for SettingsError and log lines
    path: Path
    loaded: tuple[int, int, int] | None = None
    pending: tuple[int, int, int] | None = None
    values: list = field(default_factory=list)

    @property
    def variable(self) -> str:
        return "KIMIPROXY_" + self.setting.upper()

    def read(self) -> str:
        return self.path.read_bytes().decode("utf-8", errors="replace")


class PoolConfig:
    """Client keys (``keys``), operator keys (``operator_keys``) and the pool's configured
    tokens, from the settings and their files."""

    def __init__(
        self, settings: Settings, store: AccountStore, *, poll_interval: float = POLL_INTERVAL
    ):
        self.settings = settings
        self.store = store
        self.poll_interval = poll_interval
        self.keys = KeySet(settings.api_keys)
        self.operator_keys = KeySet(settings.operator_keys)
        self._keys_file = _File("api_keys_file", Path(settings.api_keys_file))
        self._tokens_file = _File("tokens_file", Path(settings.tokens_file))
        named = (
            (self._keys_file, settings.api_keys_file),
            (self._tokens_file, settings.tokens_file),
        )
        self._files = [configured for configured, name in named if name]
        self._import_pending = bool(settings.kimi_tokens or settings.tokens_file)
        self._reload_requested = False
        self._thread: threading.Thread | None = None

    # -- start-up ---------------------------------------------------------------------------
    def load(self) -> None:
        """Read the files (``SettingsError`` when one cannot be read) and import the tokens."""
        for configured in self._files:
            signature = _signature(configured.path)
            try:
                self._read(configured, signature)
            except OSError as error:
                raise SettingsError(
                    configured.setting, f"cannot read {configured.path}: {error.strerror}"
                ) from None
        self._apply_keys()
        if self.settings.server_held_accounts and not len(self.keys):
            log.warning("no client key is configured: every request will be refused")
        self._import()

    def start_watching(self) -> None:
        """Start the thread that follows the files (and retries a failed import); idempotent."""
        if self._thread is None and (self._files or self._import_pending):
            self._thread = threading.Thread(
                target=_watch, args=(weakref.ref(self),), name="kimiproxy-pool", daemon=True
            )
            self._thread.start()

    def request_reload(self) -> None:
        """Reload both files at the next look (safe to call from a signal handler)."""
        self._reload_requested = True

    # -- what a look does ---------------------------------------------------------------------
    def tick(self) -> None:
        """One look at the files: reload those whose change held still, or all on request."""
        forced, self._reload_requested = self._reload_requested, False
        keys_changed = tokens_changed = False
        for configured in self._files:
            signature = _signature(configured.path)
            if signature is None:
                if configured.loaded is not None:
                    log.warning(
                        "%s: %s is gone; keeping what it held", configured.variable, configured.path
                    )
                    configured.loaded = None
                continue
            stable = signature == configured.pending
            configured.pending = signature
            if not forced and (signature == configured.loaded or not stable):
                continue
            try:
                self._read(configured, signature)
            except OSError as error:
                log.warning("%s: cannot read it: %s", configured.variable, error.strerror)
                continue
            keys_changed |= configured is self._keys_file
            tokens_changed |= configured is self._tokens_file
        if keys_changed:
            self._apply_keys()
            log.info("client keys reloaded: %d", len(self.keys))
        if tokens_changed:
            self._import_pending = True
        if self._import_pending:
            self._import()

    def _read(self, configured: _File, signature: tuple[int, int, int] | None) -> None:
        text = configured.read()
        parse = parse_keys if configured is self._keys_file else parse_tokens
        configured.values = parse(text, configured.variable)
        configured.loaded = configured.pending = signature

    def _apply_keys(self) -> None:
        self.keys.replace([*self.settings.api_keys, *self._keys_file.values])

    def configured_tokens(self) -> list[TokenEntry]:
        """``KIMIPROXY_KIMI_TOKENS`` then the tokens file's, as last read."""
        return [*(TokenEntry(t) for t in self.settings.kimi_tokens), *self._tokens_file.values]

    def _import(self) -> None:
        if not (self.settings.kimi_tokens or self.settings.tokens_file):
            self._import_pending = False
            return
        try:
            result = import_configured(self.store, self.configured_tokens())
        except StoreError as error:
            log.warning("importing the pool failed (%s); trying again shortly", error.code)
            self._import_pending = True
            return
        self._import_pending = False
        log.info(
            "pool: %d configured accounts (%d new, %d removed)",
            result.configured,
            result.added,
            result.removed,
        )


def _watch(ref: weakref.ref[PoolConfig]) -> None:
    """Look at the files until the app that owns them is gone."""
    while True:
        config = ref()
        if config is None:
            return
        interval = config.poll_interval
        try:
            config.tick()
        except Exception:  # the next look may fare better; never let the thread die
            log.exception("following the pool's files failed")
        del config
        time.sleep(interval)
