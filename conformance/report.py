"""The printed report around the result table, and the JUnit XML and JSON report files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from .results import FAILED, PASSED, SKIPPED, SuiteReport, format_row_details, format_table


def format_report(report: SuiteReport) -> str:
    """Header, table, notes and the closing ``N passed, N failed, N skipped`` line."""
    versions = ", ".join(f"{sdk} openai {v or 'n/a'}" for sdk, v in report.sdk_versions.items())
    head = f"kimiproxy conformance against {report.base_url}" + (
        f" ({versions})" if versions else ""
    )
    parts = [head, "", format_table(report)]
    if report.notes:
        parts += ["", *[f"Note: {note}" for note in report.notes]]
    parts += ["", f"{len(report.rows)} rows in {report.duration:.1f} s", report.summary_line()]
    return "\n".join(parts)


def to_json(report: SuiteReport) -> dict:
    """The machine-readable report (the ``--json`` file)."""
    return {
        "base_url": report.base_url,
        "duration": round(report.duration, 3),
        "sdk_versions": report.sdk_versions,
        "summary": {
            "passed": report.count(PASSED),
            "failed": report.count(FAILED),
            "skipped": report.count(SKIPPED),
        },
        "notes": report.notes,
        "deselected": [{"scenario": name, "reason": reason} for name, reason in report.deselected],
        "results": [row.to_dict() for row in report.rows],
    }


def write_json(report: SuiteReport, path: Path) -> None:
    Path(path).write_text(
        json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def to_junit(report: SuiteReport) -> ET.ElementTree:
    """JUnit XML: one ``testcase`` per row, classname ``conformance.<sdk>``."""
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="kimiproxy-conformance",
        tests=str(len(report.rows)),
        failures=str(report.count(FAILED)),
        skipped=str(report.count(SKIPPED)),
        errors="0",
        time=f"{report.duration:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="base_url", value=report.base_url)
    for row in report.rows:
        name = f"{row.scenario}[{row.mode or 'call'}]"
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"conformance.{row.sdk}",
            name=name,
            time=f"{row.duration:.3f}",
        )
        if row.status == FAILED:
            first = row.violations[0]
            failure = ET.SubElement(
                case, "failure", message=f"{first.rule}: {first.message}", type=first.rule
            )
            failure.text = format_row_details(row)
        elif row.status == SKIPPED:
            ET.SubElement(case, "skipped", message=row.skip_reason or "skipped")
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(report: SuiteReport, path: Path) -> None:
    to_junit(report).write(path, encoding="utf-8", xml_declaration=True)
