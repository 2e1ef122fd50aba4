"""The outcome of a run: one row per scenario × SDK × stream mode, the whole report, and the
result table that shows it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .violations import Violation

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"

LABELS = {PASSED: "PASS", FAILED: "FAIL", SKIPPED: "SKIP"}
HEADER = ("SCENARIO", "SDK", "STREAM", "RESULT")


@dataclass
class RowResult:
    """One scenario in one SDK and stream mode (``mode`` is ``None`` for model endpoints)."""

    scenario: str
    sdk: str
    mode: str | None
    status: str
    violations: list[Violation] = field(default_factory=list)
    skip_reason: str | None = None
    duration: float = 0.0
    description: str = ""

    @property
    def stream_label(self) -> str:
        return {"stream": "yes", "non-stream": "no"}.get(self.mode or "", "-")

    @property
    def row_id(self) -> str:
        """``chat-basic[python-stream]``: the name used by JUnit, JSON and pytest."""
        return f"{self.scenario}[{self.sdk}-{self.mode or 'call'}]"

    def to_dict(self) -> dict:
        return {
            "id": self.row_id,
            "scenario": self.scenario,
            "sdk": self.sdk,
            "stream": None if self.mode is None else self.mode == "stream",
            "status": self.status,
            "duration": round(self.duration, 3),
            "skip_reason": self.skip_reason,
            "violations": [v.to_dict() for v in self.violations],
            "description": self.description,
        }


@dataclass
class SuiteReport:
    """All rows of a run, plus what the report header shows."""

    rows: list[RowResult]
    base_url: str = ""
    duration: float = 0.0
    sdk_versions: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    deselected: list[tuple[str, str]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def failed(self) -> list[RowResult]:
        return [row for row in self.rows if row.status == FAILED]

    def ok(self, *, fail_on_skip: bool = False) -> bool:
        """No failure (and, with ``fail_on_skip``, no skipped row), and at least one row ran."""
        if not self.rows or self.failed:
            return False
        return not (fail_on_skip and self.count(SKIPPED))

    def summary_line(self) -> str:
        """``12 passed, 1 failed, 2 skipped``: alone on a line, as test runners print it."""
        passed, failed, skipped = self.count(PASSED), self.count(FAILED), self.count(SKIPPED)
        return f"{passed} passed, {failed} failed, {skipped} skipped"

    def assert_ok(self, *, fail_on_skip: bool = False) -> None:
        """Raise ``AssertionError`` with the failure table unless :meth:`ok`."""
        if not self.ok(fail_on_skip=fail_on_skip):
            raise AssertionError("conformance failed:\n" + format_table(self, only_problems=True))


def format_row_details(row: RowResult) -> str:
    """The broken rules of a failed row, each with its offending chunk or body."""
    lines: list[str] = []
    for v in row.violations:
        first, *more = v.message.splitlines() or [""]
        lines.append(f"  - {v.rule} ({v.source}): {first}")
        lines += [f"      {line}" for line in more]
        if v.evidence:
            first, *rest = v.evidence.splitlines() or [""]
            lines.append(f"      offending: {first}")
            lines += [f"                 {line}" for line in rest]
    return "\n".join(lines)


def format_table(report: SuiteReport, *, only_problems: bool = False) -> str:
    """The human table: one line per row, the broken rules under each failure, skip reasons."""
    rows = [r for r in report.rows if r.status != PASSED] if only_problems else report.rows
    width = max([len(HEADER[0]), *(len(r.scenario) for r in rows)]) + 2
    out = [f"{HEADER[0]:<{width}}{HEADER[1]:<8}{HEADER[2]:<8}{HEADER[3]}"]
    for row in rows:
        out.append(f"{row.scenario:<{width}}{row.sdk:<8}{row.stream_label:<8}{LABELS[row.status]}")
        if row.status == FAILED:
            out.append(format_row_details(row))
    reasons = sorted({r.skip_reason for r in rows if r.status == SKIPPED and r.skip_reason})
    if reasons:
        out.append("")
        out.append("Skipped:")
        out += [f"  - {reason}" for reason in reasons]
    return "\n".join(out)
