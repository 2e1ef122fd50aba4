"""The outcome of a run: one row per scenario × SDK × stream mode, and the whole report."""

from __future__ import annotations

from dataclasses import dataclass, field

from .violations import Violation

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"


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
            from .report import format_table

            raise AssertionError("conformance failed:\n" + format_table(self, only_problems=True))
