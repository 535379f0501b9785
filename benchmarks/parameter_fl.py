"""Parameter FL (LoRA FedAvg with parameter isolation) on the attack run's federation, alone.

    .venv/bin/python benchmarks/parameter_fl.py [--rounds 2] [--out benchmarks/results]

The ``parameter_fl`` row of ``fical-secure attack`` (same federation: 3
clients x 20 members and 20 non-members, seed 0, 3 eval requests a tool; the
packaged SmolLM2-135M-Instruct in float32 on CPU) without the six text modes,
to time and record it: tool accuracy of the global adapter against the base
model in the same run, the LOSS membership attack on each client's update,
bytes sent, seconds. Writes ``<out>/parameter_fl.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.envelope import machine  # noqa: E402
from fical_secure.atomic import write_json_atomic  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    from fical_secure.attacks.communication import MeasuredAdapter, communication
    from fical_secure.attacks.parameter_fl import ParameterFLConfig
    from fical_secure.attacks.parameter_fl_audit import parameter_fl_row
    from fical_secure.data.generator import generate_federation
    from fical_secure.llm.loader import load_llm

    start = time.perf_counter()
    federation = generate_federation(
        3, seed=args.seed, episodes_per_hospital=20, nonmembers_per_hospital=20, eval_per_tool=3
    )
    llm = load_llm(None, dtype="float32")  # as fical-secure attack loads it
    loaded = time.perf_counter() - start
    config = ParameterFLConfig(rounds=args.rounds, seed=args.seed)
    row = parameter_fl_row(federation, llm, config, target_fpr=0.01)
    lora = row["parameter_fl"]
    measured = MeasuredAdapter(
        row["bytes_per_client_round"], lora["lora_parameters"], lora["base_parameters"]
    )
    # the compendium's bytes are not measured here: 1 stands in, ratios are not recorded
    check = communication({"compendium_hardened": 1}, measured=measured)
    adapted, base = row["tool_accuracy"]["value"], row["tool_accuracy_base_model"]["value"]
    record: dict[str, Any] = {
        "benchmark": "parameter_fl",
        "command": "python benchmarks/parameter_fl.py " + shlex.join(sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "baseline": "the base model without adapters, same requests, same run",
        "figures": {
            "tool_accuracy_global_adapter": row["tool_accuracy"],
            "tool_accuracy_base_model": row["tool_accuracy_base_model"],
            "tool_accuracy_ratio_to_base": round(adapted / base, 4) if base else None,
            "mia_auc": row["mia_auc"],
            "tpr_at_low_fpr": row["tpr_at_low_fpr"],
            "membership_by_client": row["membership_by_client"],
            "bytes_per_client_round": row["bytes_per_client_round"],
            "bytes_per_client": row["bytes_per_client"],
            "communication_check": check["SmolLM2-135M-Instruct"].get("lora_measured"),
            "parameter_fl": lora,
            "model_load_seconds": round(loaded, 1),
            "seconds": round(time.perf_counter() - start, 1),
        },
        "targets": {
            "parameter_fl seconds (attack run budget share)": {
                "target": "<= 180",
                "measured": lora["seconds"]["total"],
                "met": lora["seconds"]["total"] <= 180,
            },
            "global adapter tool accuracy > base model": {
                "target": "> base",
                "measured": adapted,
                "met": adapted > base,
            },
        },
    }
    write_json_atomic(args.out / "parameter_fl.json", record)
    print(json.dumps(record["figures"], indent=2)[:4000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
