"""Plots of an attack run: log-log ROC per mode, and leakage against utility."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fical_secure.compliance.report import roc_figure
from fical_secure.jsontypes import JsonValue, as_list, as_number, at

if TYPE_CHECKING:
    from fical_secure.attacks.context import ModeContext
    from fical_secure.attacks.report import Rows


def roc_pngs(contexts: dict[str, ModeContext], out: Path) -> list[str]:
    """``out/roc_<mode>.png`` per mode (every client's audit, the audit report's figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for mode, ctx in contexts.items():
        for cid, result in sorted(ctx.audits().items()):
            if not result.attacks:
                continue
            fig = roc_figure(result, ctx.policy.target_fpr)
            try:
                fig.axes[0].set_title(f"{mode}: {cid}", fontsize=9)
                name = f"roc_{mode}_{cid}.png"
                fig.savefig(out / name)
            finally:
                plt.close(fig)
            names.append(name)
    return names


def _point(cell: JsonValue) -> tuple[float, list[list[float]]] | None:
    """A cell's value and its 95% interval as error-bar lengths; ``None`` without both."""
    value, ci = as_number(at(cell, "value")), [as_number(c) for c in as_list(at(cell, "ci95"))]
    if value is None or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return None
    return value, [[value - ci[0]], [ci[1] - value]]


def leakage_vs_utility_png(rows: Rows, out: Path) -> str:
    """``out/leakage_vs_utility.png``: strongest MIA AUC against the agent's tool accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 4.0), dpi=110)
    try:
        for mode, row in rows.items():
            auc, acc = _point(row.get("mia_auc")), _point(row.get("tool_accuracy"))
            if auc is None or acc is None:
                continue  # a mode without the figure (e.g. nothing released)
            # parameter_fl's accuracy is the model's own choice ("model"), not retrieval
            retrieval = at(row, "tool_accuracy", "scorer") in (None, "retrieval")
            ax.errorbar(
                acc[0],
                auc[0],
                xerr=acc[1],
                yerr=auc[1],
                fmt="o" if retrieval else "s",
                capsize=3,
                label=mode if retrieval else f"{mode} (model's choice, not retrieval)",
            )
        ax.axhline(0.5, linestyle=":", color="grey", label="chance")
        ax.set(
            xlabel="tool accuracy (TLU solver: docs + release; squares: the model's choice)",
            ylabel="strongest membership AUC",
            ylim=(0.3, 1.02),
            xlim=(0.0, 1.02),
            title="leakage against utility",
        )
        ax.legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        fig.savefig(out / "leakage_vs_utility.png")
    finally:
        plt.close(fig)
    return "leakage_vs_utility.png"
