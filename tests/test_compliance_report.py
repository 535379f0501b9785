"""Report rendering: evidence is escaped, the verdict and failing checks are recorded."""

from __future__ import annotations

from typing import Any

from fical_secure.compliance.checks import CheckResult
from fical_secure.compliance.report import build_report, render_html


def _context() -> dict[str, Any]:
    return {
        "profile": {
            "name": "strict",
            "source": "strict",
            "sha256": "ab" * 32,
            "description": "d",
            "safe_harbor": [],
        },
        "candidate": {
            "kind": "compendium",
            "owner": "h01",
            "items": 3,
            "source": "c.json",
            "audited_clients": ["h01"],
        },
        "client_config": None,
        "data": {"description": "synthetic"},
        "settings": {"seed": 0},
        "seconds": 1.0,
    }


def test_report_records_verdict_and_failing_checks() -> None:
    checks = [CheckResult("a.ok", "A", True, "fine"), CheckResult("b.bad", "B", False, "broken")]
    report = build_report(checks, _context())
    assert report["verdict"] == "fail" and report["failed_checks"] == ["b.bad"]
    assert report["versions"]["python"]
    assert build_report(checks[:1], _context())["verdict"] == "pass"


def test_html_escapes_evidence_and_summaries() -> None:
    hostile = '<script>alert(1)</script><img src="http://evil.example/x.png">'
    checks = [CheckResult("x.check", "X", False, hostile, {"note": hostile})]
    html = render_html(build_report(checks, _context()), {})
    assert "<script>alert" not in html and 'src="http://evil' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "FAIL" in html and "x.check" in html
