"""The ``kimiproxy`` command: serve, demo, emulator, conformance."""

from __future__ import annotations

import argparse
import os
import sys

from kimiproxy.errors import KimiProxyError
from kimiproxy.settings import load_config, unknown_environment


def _exec_gunicorn(arguments: list[str]) -> int:
    command = [sys.executable, "-m", "gunicorn", *arguments]
    os.execv(sys.executable, command)
    return 1  # not reached


def _serve(options: argparse.Namespace) -> int:
    if options.host:
        os.environ["KIMIPROXY_HOST"] = options.host
    if options.port:
        os.environ["KIMIPROXY_PORT"] = str(options.port)
    if options.host or options.port:
        os.environ.pop("KIMIPROXY_BIND", None)
    if options.workers:
        os.environ["KIMIPROXY_WORKERS"] = str(options.workers)
    from kimiproxy import create_app

    try:
        settings = load_config()
        # Start-up hooks (plugins' own checks) run here too, before anything listens.
        create_app(settings)
    except (ValueError, KimiProxyError) as exc:  # bad settings, a store that cannot open
        print(f"kimiproxy: {exc}", file=sys.stderr)
        return 2
    for name in unknown_environment():
        print(f"kimiproxy: warning: {name} is not a setting; ignored", file=sys.stderr)
    return _exec_gunicorn(["-c", "python:kimiproxy.hosting.gunicorn_conf"])


def _emulator(options: argparse.Namespace) -> int:
    from kimiproxy.emulator.options import parse_options
    from kimiproxy.emulator.server import serve

    try:
        emulator_options = parse_options(options.option)
    except ValueError as exc:
        print(f"kimiproxy emulator: {exc}", file=sys.stderr)
        return 2
    print(f"Kimi emulator on http://{options.host}:{options.port}", flush=True)
    serve(options.host, options.port, emulator_options)
    return 0


def _demo(options: argparse.Namespace) -> int:
    from kimiproxy.cli.demo import run_demo

    return run_demo(options.port, options.protocol, options.once)


def main(argv: list[str] | None = None) -> int:
    from kimiproxy.emulator.options import add_option_argument

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "conformance":
        from kimiproxy_conformance.cli import main as conformance_main

        return conformance_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="kimiproxy", description="An OpenAI-compatible API for the Kimi web chat."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the proxy under gunicorn (gevent workers)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(run=_serve)
    demo = commands.add_parser("demo", help="run the proxy against the bundled Kimi emulator")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--protocol", choices=["connect", "rest"], default="connect")
    demo.add_argument("--once", action="store_true", help="show one answer, then stop")
    demo.set_defaults(run=_demo)
    emulator = commands.add_parser("emulator", help="run the Kimi emulator alone")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8001)
    add_option_argument(emulator)
    emulator.set_defaults(run=_emulator)
    commands.add_parser(
        "conformance", help="check any OpenAI-compatible endpoint (kimiproxy conformance --help)"
    )
    options = parser.parse_args(argv)
    return options.run(options)


if __name__ == "__main__":
    sys.exit(main())
