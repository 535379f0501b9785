"""Audit reports: ``audit.json`` (the record) and a self-contained ``audit.html`` (for people).

The HTML is rendered from ``report.html.j2`` (beside this module, shipped as
package data) with autoescaping on; its CSS is inline and its ROC curves are
PNGs embedded as base64 data URIs, so the file opens anywhere, offline, and
nothing it shows can be swapped later by a remote resource. Both files are written atomically.
"""

from __future__ import annotations

import base64
import io
import json
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np

from fical_secure.atomic import write_text_atomic
from fical_secure.audit.metrics import roc_curve
from fical_secure.compliance.checks import CheckResult, failed
from fical_secure.errors import ConfigError
from fical_secure.jsontypes import JsonObject
from fical_secure.release.significance import resolved_false_positives

if TYPE_CHECKING:
    from fical_secure.audit.auditor import AuditResult

TEMPLATE = Path(__file__).with_name("report.html.j2")
_PACKAGES = (
    "fical-secure",
    "presidio-analyzer",
    "spacy",
    "torch",
    "transformers",
    "sentence-transformers",
    "numpy",
    "cryptography",
    "matplotlib",
)


def versions() -> dict[str, str]:
    """Python and the versions of the packages that shaped the figures."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def build_report(checks: Sequence[CheckResult], context: JsonObject) -> JsonObject:
    """The JSON record: verdict, failed check ids, every check with evidence, and ``context``."""
    bad = failed(checks)
    return {
        "report": "fical-secure audit",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "verdict": "fail" if bad else "pass",
        "failed_checks": [c.check_id for c in bad],
        **context,
        "versions": versions(),
        "checks": [c.to_dict() for c in checks],
    }


def roc_figure(result: AuditResult, target_fpr: float = 0.01) -> Any:
    """Log-log ROC curves of one client's game (a matplotlib Figure; the caller closes it).

    Log axes show the low-FPR region the release policy reads; the dashed
    vertical line is the policy's operating point: the target FPR, or the
    lowest FPR the non-members resolve (``1/n``) when that is higher.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=110)
    floor = 1e-3
    n_neg = 1
    for name, attack in sorted(result.attacks.items()):
        curve = roc_curve(attack.member_scores, attack.nonmember_scores)
        n_neg = max(n_neg, attack.nonmember_scores.size)
        ax.step(
            np.maximum(curve.fpr, floor),
            np.maximum(curve.tpr, floor),
            where="post",
            label=f"{name} (AUC {attack.metrics.auc:.2f})",
        )
    grid = np.logspace(-3, 0, 50)
    ax.plot(grid, grid, linestyle=":", color="grey", label="chance")
    operating = resolved_false_positives(n_neg, target_fpr) / n_neg
    ax.axvline(
        operating,
        linestyle="--",
        color="black",
        linewidth=0.8,
        label=f"operating point FPR {operating:.3g}",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(
        xlabel="false-positive rate (log)",
        ylabel="true-positive rate (log)",
        xlim=(floor, 1),
        ylim=(floor, 1.05),
        title=f"{result.client_id}: record membership ({result.artefact_kind})",
    )
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    return fig


def roc_png(result: AuditResult, target_fpr: float = 0.01) -> str:
    """:func:`roc_figure` as a ``data:image/png;base64,`` URI."""
    import matplotlib.pyplot as plt

    fig = roc_figure(result, target_fpr)
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_html(report: JsonObject, roc_images: dict[str, str], template: Path = TEMPLATE) -> str:
    """Render the HTML report (autoescaped).

    Raises:
        ConfigError: the template is missing or invalid.
    """

    try:
        source = template.read_text(encoding="utf-8")
        env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        return env.from_string(source).render(
            report=report,
            roc_images=roc_images,
            evidence_json=lambda value: json.dumps(value, indent=1, sort_keys=True, default=str),
        )
    except OSError as exc:
        raise ConfigError(f"cannot read the report template {template}: {exc.strerror}") from exc
    except jinja2.TemplateError as exc:
        raise ConfigError(f"invalid report template {template}: {exc}") from exc


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, creating its folder."""
    write_text_atomic(path, text, make_parents=True)


def write_reports(out: Path, report: JsonObject, roc_images: dict[str, str]) -> tuple[Path, Path]:
    """Write ``out/audit.json`` and ``out/audit.html``; returns their paths."""
    json_path, html_path = out / "audit.json", out / "audit.html"
    html = render_html(report, roc_images)
    write_atomic(json_path, json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")
    write_atomic(html_path, html)
    return json_path, html_path
