"""Validation of bodies and chunks against the official OpenAI OpenAPI description.

The suite ships the few schemas it needs, extracted from the official description, in
``schemas/openai.json``; ``--openapi FILE`` validates against a full description instead. OpenAPI
3.0's ``nullable: true`` is rewritten into JSON Schema (a union with ``null``) before ``jsonschema``
sees it. Regenerate the shipped file with
``python -m kimiproxy_conformance.schema extract PATH/openai-openapi.json``.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import sys
from pathlib import Path

from .violations import Violation, evidence

ROOTS = (
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "ErrorResponse",
    "ListModelsResponse",
    "Model",
)
BUNDLED = Path(__file__).with_name("schemas") / "openai.json"
REPO_OPENAPI = Path(__file__).resolve().parent.parent.parent / "shared" / "openai-openapi.json"
_REF_PREFIX = "#/components/schemas/"
_DROP = {
    "description",
    "example",
    "examples",
    "x-oaiMeta",
    "x-oaiTypeLabel",
    "title",
    "discriminator",
}
MAX_ERRORS = 3


def default_openapi_path() -> Path | None:
    """``../shared/openai-openapi.json`` beside the source checkout, when there is one."""
    return REPO_OPENAPI if REPO_OPENAPI.is_file() else None


def extract(openapi: dict, roots: tuple[str, ...] = ROOTS) -> dict:
    """The named component schemas and everything they reference, as ``{name: schema}``."""
    components = openapi["components"]["schemas"]
    wanted: dict[str, dict] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted[name] = _strip(components[name])
        pending.extend(_refs(wanted[name]))
    return dict(sorted(wanted.items()))


def _strip(node: object) -> object:
    if isinstance(node, dict):
        return {
            k: (_strip(v) if k != "properties" else {p: _strip(s) for p, s in v.items()})
            for k, v in node.items()
            if k not in _DROP
        }
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _refs(node: object):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                yield value[len(_REF_PREFIX) :]
            elif key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    yield from _refs(sub)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def to_json_schema(node: object) -> object:
    """Rewrite OpenAPI idioms into JSON Schema 2020-12: ``nullable`` and component ``$ref``s."""
    if isinstance(node, list):
        return [to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {p: to_json_schema(s) for p, s in value.items()}
        elif key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
            out[key] = "#/$defs/" + value[len(_REF_PREFIX) :]
        elif key != "nullable":
            out[key] = to_json_schema(value)
    if node.get("nullable") is True:
        return _nullable(out)
    return out


def _nullable(schema: dict) -> dict:
    kind = schema.get("type")
    if (
        isinstance(kind, str)
        and "$ref" not in schema
        and not any(k in schema for k in ("anyOf", "oneOf", "allOf"))
    ):
        schema = dict(schema, type=[kind, "null"])
        if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


class SchemaSet:
    """Validators for the root schemas, built once."""

    def __init__(self, schemas: dict, origin: str):
        from jsonschema import Draft202012Validator

        defs = {name: to_json_schema(schema) for name, schema in schemas.items()}
        self.origin = origin
        self._validators = {
            name: Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": defs})
            for name in ROOTS
            if name in defs
        }

    def validate(self, name: str, instance: object) -> list[Violation]:
        """Violations named ``schema.<name>``, each with the JSON path of the failing value."""
        validator = self._validators.get(name)
        if validator is None:
            return []
        found: list[Violation] = []
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        for error in errors[:MAX_ERRORS]:
            path = (
                "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
                or "(root)"
            )
            found.append(
                Violation(
                    f"schema.{name}", f"at {path}: {_short(error.message)}", evidence(instance)
                )
            )
        return found


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def load_schemas(openapi: Path | None) -> SchemaSet | None:
    """Validators from ``openapi`` (a full description) or else the shipped extract.

    Returns ``None`` when neither can be read or ``jsonschema`` is missing; the caller prints a
    note and skips only the schema checks.
    """
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        return None
    if openapi is not None:
        path = Path(openapi).resolve()
        return _from_description(str(path), path.stat().st_mtime)
    if BUNDLED.is_file():
        shipped = json.loads(BUNDLED.read_text(encoding="utf-8"))
        return SchemaSet(
            {k: v for k, v in shipped.items() if not k.startswith("$")}, "bundled extract"
        )
    return None


@functools.lru_cache(maxsize=4)
def _from_description(path: str, mtime: float) -> SchemaSet:
    """Parsing the full description takes a moment: once per file version and process."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    return SchemaSet(extract(document), path)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kimiproxy_conformance.schema")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("extract", help="write the needed schemas of an OpenAPI description")
    ex.add_argument("openapi", type=Path)
    ex.add_argument("-o", "--output", type=Path, default=BUNDLED)
    args = parser.parse_args(argv)
    document = json.loads(args.openapi.read_text(encoding="utf-8"))
    extracted = extract(document)
    note = {
        "source": "components.schemas of the official OpenAI OpenAPI description",
        "roots": list(ROOTS),
    }
    payload = {"$comment": note, **copy.deepcopy(extracted)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {len(extracted)} schemas to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
