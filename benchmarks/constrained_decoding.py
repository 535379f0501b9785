"""Constrained-decoding libraries compared on the same BFCL calls, CPU, packaged SmolLM2-135M.

Each library decodes the arguments of the gold tool of the first ``--n``
held-out ``live_multiple`` requests (``benchmarks/bfcl_federation.py
--split thirds``), constrained to the tool's own JSON Schema (no candidate
narrowing: the guarantee is what is compared), with the same prompt and the
same greedy decoding. Figures: share of outputs that parse as JSON and
validate against the tool's schema (the project's validator), seconds per
call (schema compilation included; the libraries take turns on each call), and the
installed size.

    PYTHONPATH=. .venv/bin/python benchmarks/constrained_decoding.py [--n 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bfcl_federation import build_folder

from fical_secure.atomic import write_json_atomic
from fical_secure.data.arg_schema import call_schema, parameters_schema
from fical_secure.data.function_spec import load_catalogue
from fical_secure.data.json_schema import argument_problems
from fical_secure.llm.loader import load_llm

RESULTS = Path(__file__).resolve().parent / "results" / "constrained_decoding.json"
MAX_NEW = 96


def _prompt(llm: Any, request: str, tool: dict[str, Any]) -> str:
    user = (
        f"Tool: {json.dumps(tool)}\nRequest: {request}\n"
        "Write the JSON arguments of the tool call for this request."
    )
    return str(llm.chat_prompt(user))


def _lmfe(llm: Any) -> Callable[[str, dict[str, Any]], str]:
    # lm-format-enforcer 0.11.3's transformers integration imports a module that
    # transformers 5 removed: its own TokenEnforcer is driven directly instead.
    from lmformatenforcer import JsonSchemaParser, TokenEnforcer, TokenEnforcerTokenizerData

    tok = llm.tokenizer
    zero = tok.encode("0")[-1]
    special = set(tok.all_special_ids)
    regular = []
    for i in range(len(tok)):
        if i not in special:
            after_zero, alone = tok.decode([zero, i])[1:], tok.decode([i])
            regular.append((i, after_zero, len(after_zero) > len(alone)))
    data = TokenEnforcerTokenizerData(
        regular, lambda ids: tok.decode(ids).rstrip("\ufffd"), tok.eos_token_id, False, len(tok)
    )

    def run(prompt: str, schema: dict[str, Any]) -> str:
        enforcer = TokenEnforcer(data, JsonSchemaParser(schema))

        def allowed(_batch: int, sent: Any) -> list[int]:
            return list(enforcer.get_allowed_tokens(sent.tolist()).allowed_tokens)

        return _generate(llm, prompt, prefix_allowed_tokens_fn=allowed)

    return run


def _xgrammar(llm: Any) -> Callable[[str, dict[str, Any]], str]:
    import xgrammar as xgr
    from xgrammar.contrib.hf import LogitsProcessor

    info = xgr.TokenizerInfo.from_huggingface(
        llm.tokenizer, vocab_size=llm.generation_model.config.vocab_size
    )
    compiler = xgr.GrammarCompiler(info)

    def run(prompt: str, schema: dict[str, Any]) -> str:
        grammar = compiler.compile_json_schema(json.dumps(schema), any_whitespace=False)
        return _generate(llm, prompt, logits_processor=[LogitsProcessor(grammar)])

    return run


def _outlines(llm: Any) -> Callable[[str, dict[str, Any]], str]:
    import outlines
    from outlines.types import JsonSchema

    model = outlines.from_transformers(llm.generation_model, llm.tokenizer)

    def run(prompt: str, schema: dict[str, Any]) -> str:
        out = model(prompt, JsonSchema(json.dumps(schema)), max_new_tokens=MAX_NEW)
        return str(out)

    return run


def _generate(llm: Any, prompt: str, **constraint: Any) -> str:
    import torch
    from transformers import LogitsProcessorList

    ids = torch.tensor([llm.tokenizer.encode(prompt, add_special_tokens=False)])
    if "logits_processor" in constraint:
        constraint["logits_processor"] = LogitsProcessorList(constraint["logits_processor"])
    with torch.inference_mode():
        out = llm.generation_model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=MAX_NEW,
            pad_token_id=llm.tokenizer.eos_token_id,
            **constraint,
        )
    return str(llm.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))


LIBRARIES = {"lm-format-enforcer": _lmfe, "xgrammar": _xgrammar, "outlines": _outlines}
PACKAGES = {
    "lm-format-enforcer": ("lmformatenforcer", "interegular"),
    "xgrammar": ("xgrammar",),
    "outlines": ("outlines", "outlines_core"),
}


def _size_mb(packages: tuple[str, ...]) -> float:
    import importlib.util

    total = 0
    for name in packages:
        spec = importlib.util.find_spec(name)
        root = Path(next(iter(spec.submodule_search_locations or []))) if spec else None
        if root is not None:
            total += sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return round(total / 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = Path("runs/bfcl_live_multiple_thirds")
    build_folder(folder, categories=("live_multiple",), split="thirds")
    catalogue = {t.name: t for t in load_catalogue(folder / "catalogue.json")}
    raw = {t["name"]: t for t in json.loads((folder / "catalogue.json").read_text())}
    evals = [json.loads(x) for x in (folder / "eval.jsonl").read_text().splitlines() if x][: args.n]
    llm = load_llm(device="cpu")
    names = args.libraries.split(",")
    runs = {name: LIBRARIES[name](llm) for name in names}
    seconds: dict[str, list[float]] = {n: [] for n in names}
    valid = dict.fromkeys(names, 0)
    errors: dict[str, list[dict[str, str]]] = {n: [] for n in names}
    samples: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for e in evals:  # libraries take turns on each call: load on the shared CPU hits all alike
        spec = catalogue[e["gold"]["tool"]]
        schema = parameters_schema(spec)
        for name in names:
            started = time.perf_counter()
            try:
                text = runs[name](_prompt(llm, e["request"], raw[spec.name]), schema)
            except (ValueError, RuntimeError) as exc:  # the library's own failure
                text = f"ERROR {type(exc).__name__}: {str(exc)[:160]}"
                errors[name].append({"id": e["id"], "error": text})
            seconds[name].append(time.perf_counter() - started)
            try:
                value = json.loads(text)
                ok = isinstance(value, dict) and not argument_problems(
                    spec.name, call_schema(spec), value
                )
            except json.JSONDecodeError:
                ok = False
            valid[name] += ok
            samples[name].append({"id": e["id"], "valid": ok, "output": text[:200]})
    rows: dict[str, Any] = {}
    for name in names:
        ordered = sorted(seconds[name])
        rows[name] = {
            "valid_share": valid[name] / len(evals),
            "seconds_per_call_mean": round(sum(ordered) / len(ordered), 3),
            "seconds_per_call_median": round(ordered[len(ordered) // 2], 3),
            "seconds_per_call_max": round(ordered[-1], 3),
            "installed_mb": _size_mb(PACKAGES[name]),
            "library_errors": errors[name],
            "samples": samples[name][:5],
        }
        print(name, {k: v for k, v in rows[name].items() if k != "samples"}, flush=True)
    write_json_atomic(
        RESULTS,
        {
            "benchmark": "constrained_decoding",
            "command": "PYTHONPATH=. .venv/bin/python benchmarks/constrained_decoding.py "
            f"--n {args.n} --libraries {args.libraries}",
            "date": dt.date.today().isoformat(),
            "machine": f"{os.cpu_count()} CPU cores (shared with other jobs), no GPU",
            "baseline": "same prompt, same greedy decoding, same model (SmolLM2-135M, bf16, CPU)",
            "figures": {"n_calls": len(evals), **rows},
            "targets": {},
        },
    )


if __name__ == "__main__":
    main()
