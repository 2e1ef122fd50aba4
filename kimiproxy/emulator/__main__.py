"""``python -m kimiproxy.emulator --port N [--option KEY=VALUE ...]``: run the emulator alone."""

from __future__ import annotations

import argparse
import json

from kimiproxy.emulator.server import serve
from kimiproxy.emulator.state import DEFAULT_OPTIONS, merge_options


def parse_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` → ``(KEY, VALUE)``; the value is JSON where it parses (``3``, ``false``,
    ``0.2``), else the plain string. ``ValueError`` for a missing ``=`` or an unknown key."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--option needs KEY=VALUE, got {text!r}")
    if key not in DEFAULT_OPTIONS:
        known = ", ".join(DEFAULT_OPTIONS)
        raise ValueError(f"unknown emulator option {key!r} (known: {known})")
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


def add_option_argument(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--option KEY=VALUE`` argument (for any command that runs the
    emulator)."""
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"set an emulator option (repeatable; known: {', '.join(DEFAULT_OPTIONS)})",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kimiproxy.emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    add_option_argument(parser)
    args = parser.parse_args(argv)
    try:
        options = parse_options(args.option)
    except ValueError as exc:
        parser.error(str(exc))
    serve(args.host, args.port, options)


if __name__ == "__main__":
    main()
