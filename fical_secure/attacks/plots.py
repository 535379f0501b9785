"""Plots of an attack run: log-log ROC per mode, and leakage against utility."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fical_secure.compliance.report import roc_figure

if TYPE_CHECKING:
    from fical_secure.attacks.context import ModeContext


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


def leakage_vs_utility_png(rows: dict[str, dict[str, Any]], out: Path) -> str:
    """``out/leakage_vs_utility.png``: strongest MIA AUC against the agent's tool accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 4.0), dpi=110)
    try:
        for mode, row in rows.items():
            auc, acc = row.get("mia_auc"), row.get("tool_accuracy")
            if not auc or not acc:
                continue  # a mode without the figure (e.g. nothing released)
            retrieval = acc.get("scorer", "retrieval") == "retrieval"  # parameter_fl: "model"
            ax.errorbar(
                acc["value"],
                auc["value"],
                xerr=[[acc["value"] - acc["ci95"][0]], [acc["ci95"][1] - acc["value"]]],
                yerr=[[auc["value"] - auc["ci95"][0]], [auc["ci95"][1] - auc["value"]]],
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
