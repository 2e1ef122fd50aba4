"""``kimiproxy conformance``: replay the scenarios through the OpenAI SDKs against a server.

Exit status 0 when every row passed, 1 when a row failed (or, with ``--fail-on-skip``, was
skipped), 2 for a usage error or when no scenario was selected.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import engine, report, schema
from .config import DEFAULT_MODEL, DEFAULT_TIMEOUT, INVALID_API_KEY, SuiteConfig, default_api_key
from .node_runner import install_command
from .results import format_table
from .scenario import MODES, SDKS, ScenarioError, load_scenarios
from .selection import CAPABILITIES, Selection, capabilities_from, select


def _words(values: list[str] | None) -> list[str]:
    """``--sdk python,node --sdk x`` → ``["python", "node", "x"]``."""
    return [w.strip() for value in values or [] for w in value.split(",") if w.strip()]


def build_parser() -> argparse.ArgumentParser:
    caps = "; ".join(f"{name}: {text}" for name, text in CAPABILITIES.items())
    parser = argparse.ArgumentParser(
        prog="kimiproxy conformance",
        description="Replay recorded scenarios through the official OpenAI SDKs (Python and "
        "Node.js) against any OpenAI-compatible server and check every answer against the "
        "protocol's rules.",
        epilog=f"Capabilities: {caps}. Node rows need the openai npm package: {install_command()}",
    )
    parser.add_argument(
        "--base-url",
        required=True,
        metavar="URL",
        help="the OpenAI base URL, e.g. http://localhost:8000/v1",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        default=None,
        help="default: $OPENAI_API_KEY, else a placeholder token",
    )
    parser.add_argument(
        "--invalid-api-key",
        metavar="KEY",
        default=INVALID_API_KEY,
        help="a key the server must refuse with 401",
    )
    parser.add_argument(
        "--model",
        metavar="M",
        default=DEFAULT_MODEL,
        help=f"model for chat scenarios (default {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--sdk",
        metavar="LIST",
        action="append",
        help=f"SDKs to use, of {', '.join(SDKS)} (default both)",
    )
    parser.add_argument("--mode", choices=["stream", "non-stream", "both"], default="both")
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="the server is kimiproxy in front of the bundled Kimi emulator: also run the "
        "kimi-models and kimi-emulator scenarios",
    )
    parser.add_argument(
        "--enable", action="append", metavar="CAP", help="enable a capability (repeatable)"
    )
    parser.add_argument("--disable", action="append", metavar="CAP", help="disable one, e.g. auth")
    parser.add_argument(
        "--tags", metavar="TAGS", action="append", help="run only scenarios with one of these tags"
    )
    parser.add_argument(
        "--skip-tags",
        metavar="TAGS",
        action="append",
        help="leave out scenarios with one of these tags",
    )
    parser.add_argument(
        "-k", "--scenario", action="append", metavar="GLOB", help="scenario names to run"
    )
    parser.add_argument(
        "--scenarios",
        action="append",
        type=Path,
        metavar="DIR",
        help="also load scenario files from DIR",
    )
    parser.add_argument(
        "--no-builtin", action="store_true", help="do not load the shipped scenarios"
    )
    parser.add_argument(
        "--openapi",
        metavar="FILE",
        type=Path,
        help="validate against this OpenAI OpenAPI description",
    )
    parser.add_argument("--no-schema", action="store_true", help="skip the OpenAPI schema checks")
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="client timeout in seconds",
    )
    parser.add_argument(
        "--node", metavar="PATH", help="the Node.js binary (default: node on the PATH)"
    )
    parser.add_argument(
        "--node-modules", metavar="DIR", type=Path, help="folder holding the openai npm package"
    )
    parser.add_argument(
        "--fail-on-skip", action="store_true", help="a skipped row (e.g. no Node.js) fails the run"
    )
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write a JSON report")
    parser.add_argument("--list", action="store_true", help="list the selected scenarios and exit")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only failures, skips and the summary"
    )
    return parser


def _schemas(args: argparse.Namespace, notes: list[str]):
    if args.no_schema:
        notes.append("OpenAPI schema checks are off (--no-schema)")
        return None
    path = args.openapi or schema.default_openapi_path()
    if args.openapi and not args.openapi.is_file():
        raise SystemExit(f"kimiproxy conformance: --openapi {args.openapi} does not exist")
    loaded = schema.load_schemas(path)
    if loaded is None:
        notes.append(
            "no OpenAPI description and no bundled extract (or no jsonschema): "
            "schema checks skipped"
        )
    return loaded


def main(argv: list[str] | None = None) -> int:
    """Run the suite with command-line arguments ``argv``; returns the exit status."""
    args = build_parser().parse_args(argv)
    sdks = tuple(_words(args.sdk)) or SDKS
    modes = MODES if args.mode == "both" else (args.mode,)
    try:
        selection = Selection(
            capabilities=capabilities_from(
                emulator=args.emulator, enable=_words(args.enable), disable=_words(args.disable)
            ),
            tags=frozenset(_words(args.tags)),
            skip_tags=frozenset(_words(args.skip_tags)),
            names=tuple(_words(args.scenario)),
        )
        scenarios = load_scenarios(args.scenarios or [], builtin=not args.no_builtin)
    except (ValueError, ScenarioError, OSError) as exc:
        print(f"kimiproxy conformance: {exc}", file=sys.stderr)
        return 2
    chosen, left_out = select(scenarios, selection)
    if args.list:
        for s in chosen:
            print(f"{s.name:<32} {','.join(s.tags):<24} {s.description}")
        for s, reason in left_out:
            print(f"{s.name:<32} (not selected: {reason})")
        return 0
    if not chosen:
        print("kimiproxy conformance: no scenario selected", file=sys.stderr)
        return 2
    notes: list[str] = []
    try:
        config = SuiteConfig(
            base_url=args.base_url,
            api_key=args.api_key or default_api_key(),
            invalid_api_key=args.invalid_api_key,
            model=args.model,
            sdks=sdks,
            modes=modes,
            selection=selection,
            timeout=args.timeout,
            schemas=_schemas(args, notes),
            node=args.node,
            node_modules=args.node_modules,
        )
    except ValueError as exc:
        print(f"kimiproxy conformance: {exc}", file=sys.stderr)
        return 2
    result = engine.run(chosen, config)
    result.notes = notes + ([f"schemas: {config.schemas.origin}"] if config.schemas else [])
    result.deselected = [(s.name, reason) for s, reason in left_out]
    if args.quiet:
        if result.failed or result.count("skipped"):
            print(format_table(result, only_problems=True))
        print(result.summary_line())
    else:
        print(report.format_report(result))
    if args.junit:
        report.write_junit(result, args.junit)
    if args.json:
        report.write_json(result, args.json)
    return 0 if result.ok(fail_on_skip=args.fail_on_skip) else 1


if __name__ == "__main__":
    sys.exit(main())
