"""The Markdown summary of an attack run: one row per sharing mode, then the targets."""

from __future__ import annotations

from collections.abc import Mapping

from fical_secure.attacks.report import LeakageRecord, Rows
from fical_secure.jsontypes import JsonValue, as_list, at

_COLUMNS = (
    ("mia_auc", "MIA AUC"),
    ("tpr_at_low_fpr", "TPR at low FPR"),
    ("canary_exposure_bits", "canary bits"),
    ("verbatim_pii", "verbatim PII"),
    ("pii_extraction_rate", "PII extracted"),
    ("rougeL_extraction", "ROUGE-L extraction"),
    ("attribution_accuracy", "attribution"),
    ("attribution_content_accuracy", "attribution (content)"),
    ("tool_accuracy", "tool acc."),
    ("bytes_per_client", "bytes/client"),
)


def _cell(value: JsonValue) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, Mapping):
        v = value.get("value")
        if v is None:
            return "n/a"
        text = f"{v:.3f}" if isinstance(v, float) else str(v)
        ci = as_list(value.get("ci95"))
        if ci:
            text += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
        if "label" in value:
            text += f" ({value['label']})"
        if "chance" in value:
            text += f" (chance {value['chance']:.2f})"
        return text
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def summary_markdown(record: LeakageRecord) -> str:
    """The run as Markdown: setup, a table of modes, targets met or not."""
    fed = record.federation
    lines = [
        "# Leakage by sharing mode",
        "",
        f"{fed.clients} clients, {fed.episodes_per_client} members and as many "
        f"non-members each, seed {fed.seed}; model {record.model}; release profile "
        f"{record.profile}; suite {record.suite}; {record.seconds} s.",
        f"Attacker: {record.attacker}.",
        "",
        "| mode | " + " | ".join(title for _, title in _COLUMNS) + " |",
        "|---" * (len(_COLUMNS) + 1) + "|",
    ]
    for mode, row in record.rows.items():
        cells = [_cell(row.get(key)) for key, _ in _COLUMNS]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    lines += ["", "Attacks:", ""]
    lines += [
        f"- `{a['name']}`: game {a['game']}, threat model {a['threat_model']}"
        for a in record.attacks
    ]
    lines += ["", "| target | wanted | measured | met |", "|---|---|---|---|"]
    for name, t in record.targets.items():
        lines.append(f"| {name} | {t.target} | {_cell(t.measured)} | {'yes' if t.met else 'no'} |")
    lines += ["", _closing(record.rows), ""]
    return "\n".join(lines)


def _closing(rows: Rows) -> str:
    """How to read the table: attribution's channel, and what the parameter-FL row measures."""
    text = (
        "Attribution uses the sender where the mode shows one (every mode but "
        "`compendium_secagg`), else content only; "
    )
    lora = rows.get("parameter_fl")
    if lora is None:
        return text + "parameter FL (LoRA) was not run."
    base = lora.get("tool_accuracy_base_model")
    seconds = at(lora, "parameter_fl", "seconds", "total")
    return (
        text + "`parameter_fl` trains LoRA FedAvg for real; its tool accuracy is the "
        "adapted model's constrained choice over the catalogue (the base model's: "
        f"{_cell(base)}), not retrieval like the text modes' (compare it with the base "
        f"model, not across rows); {lora.get('note', '')}; {seconds} s."
    )
