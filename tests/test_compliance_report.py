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
            "n_items": 3,
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


def test_html_states_the_item_count_and_what_to_do_about_a_failure() -> None:
    checks = [CheckResult("b.bad", "B", False, "broken", remedy="rotate the <key>")]
    html = render_html(build_report(checks, _context()), {})
    assert "3 released items" in html and "built-in method" not in html
    assert "What to do:</b> rotate the &lt;key&gt;" in html


def test_roc_plot_is_log_log_with_the_operating_point() -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    from fical_secure.audit.attacks import SIG_MAX_COSINE, run_attacks
    from fical_secure.audit.auditor import AuditResult
    from fical_secure.compliance.report import roc_figure, roc_png

    rng = np.random.default_rng(0)
    attacks = run_attacks(
        {SIG_MAX_COSINE: rng.normal(1, 1, 20)},
        {SIG_MAX_COSINE: rng.normal(0, 1, 40)},
        n_resamples=10,
    )
    result = AuditResult("h01", "compendium", ("e",), attacks, (), (), 0, (), 0.0)
    fig = roc_figure(result, target_fpr=0.01)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    operating = [line for line in ax.get_lines() if "operating point" in str(line.get_label())]
    assert len(operating) == 1 and operating[0].get_xdata()[0] == 1 / 40  # 1 of 40 non-members
    plt.close(fig)
    assert roc_png(result).startswith("data:image/png;base64,iVBORw0KGgo")
