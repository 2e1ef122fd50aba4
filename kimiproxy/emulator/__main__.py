"""``python -m kimiproxy.emulator --port N [--option KEY=VALUE ...]``: run the emulator alone."""

from __future__ import annotations

import argparse

from kimiproxy.emulator.options import add_option_argument, parse_options
from kimiproxy.emulator.server import serve


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
