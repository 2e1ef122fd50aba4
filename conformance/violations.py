"""What a broken rule looks like: the rule's name, a sentence, and the offending chunk or body."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

EVIDENCE_LIMIT = 600


@dataclass(frozen=True)
class Violation:
    """One broken rule.

    ``rule`` is a stable dotted name (``stream.done-terminates``); ``evidence`` is the raw line,
    chunk or body that breaks it, shortened to :data:`EVIDENCE_LIMIT` characters; ``source`` says
    who saw it: ``raw`` (the suite's own HTTP request) or the SDK name.
    """

    rule: str
    message: str
    evidence: str | None = None
    source: str = "raw"

    def to_dict(self) -> dict:
        return asdict(self)

    def with_source(self, source: str) -> Violation:
        return Violation(self.rule, self.message, self.evidence, source)

    def with_prefix(self, prefix: str) -> Violation:
        """The same violation with ``prefix`` put before the message (e.g. ``request #2: ``)."""
        return Violation(self.rule, prefix + self.message, self.evidence, self.source)


def evidence(value: object, limit: int = EVIDENCE_LIMIT) -> str:
    """A short, printable form of a chunk, body or line for a report."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text) - limit} more characters)"
    return text


def describe_type(value: object) -> str:
    """The JSON name of a value's type, with the value when it is short (for messages)."""
    names = {
        type(None): "null",
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }
    name = names.get(type(value), type(value).__name__)
    if isinstance(value, (bool, int, float)) or value is None:
        return f"{name} {json.dumps(value)}"
    return name


def first_per_rule(found: list[Violation]) -> list[Violation]:
    """Keep the first violation of each rule: one bad chunk usually repeats on every chunk."""
    seen: set[str] = set()
    kept: list[Violation] = []
    for violation in found:
        if violation.rule not in seen:
            seen.add(violation.rule)
            kept.append(violation)
    return kept
