"""The emulator's options: which exist, their types and defaults, and how they are checked and
set (``create_emulator_app({...})``, ``--option KEY=VALUE`` on the command line, and
``POST /_emulator/options`` on a running emulator).

Every way of setting an option goes through :func:`check_option`, so a typo or a value of the
wrong type is refused with a message naming the option, whichever way it came in.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    """One option: its default (whose type is the option's type), the smallest value a number
    may take, and what it does."""

    default: bool | int | float
    help: str
    minimum: int = 0


OPTIONS: dict[str, Option] = {
    "research_total": Option(20, "research answers per account before the quota is used up"),
    "parse_polls": Option(2, "POST /api/file polls until a file leaves initializing"),
    "chunk_size": Option(8, "characters per answer delta"),
    "split_bytes": Option(5, "bytes per network write for [[reply:split-utf8]]"),
    "slow_chunk_delay": Option(0.5, "seconds between writes under the slow_chunks fault"),
    "parse_hang_seconds": Option(5.0, "how long parse_hang holds a parse answer"),
    "one_stream_per_account": Option(True, "refuse a second concurrent stream like Kimi does"),
    "access_ttl": Option(900, "seconds an access token lives (exp - iat)", minimum=1),
    "rotating_refresh": Option(True, "serve POST .../AuthService/RefreshToken (false: 404)"),
    "legacy_refresh_rotates": Option(False, "GET /api/auth/token/refresh rotates too"),
    "refresh_grace": Option(0.0, "seconds a rotated-out refresh token is accepted once more"),
    "refresh_delay": Option(0.0, "seconds every refresh takes, so refreshes can overlap"),
    "refresh_hang_seconds": Option(60.0, "how long the refresh_hang fault holds a refresh"),
}
DEFAULT_OPTIONS: dict = {name: option.default for name, option in OPTIONS.items()}


def _known() -> str:
    return ", ".join(OPTIONS)


def check_option(key: str, value: object) -> None:
    """``ValueError`` unless ``key`` is an option and ``value`` has its type (a float option also
    takes an integer) and, for numbers, is not below its minimum."""
    option = OPTIONS.get(key)
    if option is None:
        raise ValueError(f"unknown emulator option {key!r} (known: {_known()})")
    if isinstance(option.default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"emulator option {key} must be true or false, not {value!r}")
        return
    kinds = (int,) if isinstance(option.default, int) else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < option.minimum:
        kind = "an integer" if kinds == (int,) else "a number"
        raise ValueError(f"emulator option {key} must be {kind} >= {option.minimum}, not {value!r}")


def merge_options(options: Mapping | None, base: Mapping | None = None) -> dict:
    """``base`` (the defaults unless given) overlaid with ``options``; unknown keys and values of
    the wrong type are refused (``ValueError``) to catch typos."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown emulator options: {unknown} (known: {_known()})")
    for key, value in options.items():
        check_option(key, value)
    return {**(DEFAULT_OPTIONS if base is None else base), **options}


def parse_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` → ``(KEY, VALUE)``; the value is JSON where it parses (``3``, ``false``,
    ``0.2``), else the plain string. ``ValueError`` for a missing ``=`` or an unknown key (the
    value's type is checked by :func:`parse_options`)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--option needs KEY=VALUE, got {text!r}")
    if key not in OPTIONS:
        raise ValueError(f"unknown emulator option {key!r} (known: {_known()})")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def parse_options(items: list[str] | None) -> dict:
    """The options of repeated ``--option KEY=VALUE`` arguments, checked like
    ``create_emulator_app`` checks them (``ValueError`` with a readable message)."""
    options = dict(parse_option(item) for item in items or [])
    merge_options(options)
    return options


def option_argument(key: str, value: object) -> str:
    """The ``KEY=VALUE`` text that :func:`parse_option` reads back as ``(key, value)``."""
    check_option(key, value)
    return f"{key}={json.dumps(value)}"


def add_option_argument(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--option KEY=VALUE`` argument (for any command that runs the
    emulator)."""
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set an emulator option (repeatable): "
        + "; ".join(f"{name} ({json.dumps(o.default)}) {o.help}" for name, o in OPTIONS.items()),
    )
