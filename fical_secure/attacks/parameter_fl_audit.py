"""The ``parameter_fl`` row of ``fical-secure attack``: utility, bytes and leakage of LoRA FedAvg.

* Utility: tool accuracy on the federation's held-out requests by the agent's
  own constrained choice (:func:`fical_secure.tlu.prompt.calibrated_scores`:
  first token of ``name(`` over every catalogue tool, calibrated on a
  content-free request) with the final global adapter, beside the same
  figure for the base model measured in the same run.
* Bytes: the serialised global adapter each client sends, per round.
* Leakage, game record-membership, attacker the honest-but-curious server
  holding each client's last global update: a reference-calibrated LOSS
  attack, score = loss under the base model minus loss under base + that
  update (higher: member), on the client's members against its held-out
  non-members; AUC with a bootstrap CI and the TPR at the lowest FPR the
  non-members resolve, each with its permutation p-value.

Canaries, verbatim PII, ROUGE-L extraction and content attribution are
figures of a text artefact, which this mode does not release: they are null.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from fical_secure.attacks import parameter_fl as pfl
from fical_secure.audit.metrics import Interval, bootstrap_ci, wilson_interval
from fical_secure.jsontypes import JsonObject
from fical_secure.release.significance import MembershipTest, permutation_test
from fical_secure.tlu.prompt import calibrated_scores, plain_job

if TYPE_CHECKING:
    from fical_secure.data.schema import Federation
    from fical_secure.llm.base import LLM
    from fical_secure.llm.transformers_backend import TransformersLLM

ATTACK = "lora_loss_reference"
GAME, THREAT_MODEL = "record-membership", "honest-but-curious-server"
UTILITY_METHOD = (
    "the model's constrained choice over the catalogue (first token of name(, calibrated "
    "on a content-free request), not retrieval"
)
NOT_APPLICABLE = (
    "the server holds weight updates, not text: canary exposure, verbatim PII, PII and "
    "ROUGE-L extraction and content attribution measure a text artefact and are not run "
    "(n/a); membership is a LOSS attack on the last global update"
)


@dataclass(frozen=True)
class ClientMembership:
    """One client's LOSS attack: the permutation test and the AUC's bootstrap CI."""

    client: str
    test: MembershipTest
    auc_ci: Interval
    members: npt.NDArray[np.float64]
    nonmembers: npt.NDArray[np.float64]


def record_losses(llm: LLM, pairs: Sequence[pfl.Pair]) -> npt.NDArray[np.float64]:
    """Mean token loss (nats) of each target after its context, by ``llm.score``.

    Raises:
        GenerationError: the backend failed.
    """
    scored = llm.score([t for _, t in pairs], [c for c, _ in pairs])
    return np.array([-float(np.mean(lp, dtype=np.float64)) for lp in scored], dtype=np.float64)


def tool_choices(llm: LLM, federation: Federation) -> list[bool]:
    """Per held-out request: does the calibrated constrained choice pick the gold tool?

    Raises:
        GenerationError: the backend failed.
    """
    tools = [t.name for t in federation.catalogue]
    requests = federation.eval_requests
    scores = calibrated_scores(llm, [plain_job(r.request, tools) for r in requests])
    return [tools[int(np.argmax(s))] == r.gold.tool for s, r in zip(scores, requests, strict=True)]


def accuracy_figure(right: Sequence[bool], method: str) -> JsonObject:
    """A tool-accuracy cell: rate, Wilson CI, count, method."""
    k, n = sum(right), len(right)
    return {
        "value": round(k / n, 4) if n else 0.0,
        "ci95": wilson_interval(k, n),
        "n_requests": n,
        "method": method,
        "scorer": "model",  # the text modes' figure is retrieval's (plots tell them apart)
    }


def membership(
    federation: Federation,
    base: LLM,
    adapted: TransformersLLM,
    run: pfl.ParameterFLRun,
    *,
    target_fpr: float,
    permutations: int,
    seed: int,
) -> list[ClientMembership]:
    """The server's LOSS attack on each client's last global update (see the module docstring).

    Raises:
        GenerationError: the backend failed.
    """
    pfl.activate(adapted, [pfl.GLOBAL])  # the attacker has the global update, never the local
    out = []
    for hospital in federation.hospitals:
        cid = hospital.hospital_id
        members = pfl.training_pairs(base, hospital.members)
        nonmembers = pfl.training_pairs(base, hospital.nonmembers)
        pairs = members + nonmembers
        pfl.set_state(adapted, pfl.GLOBAL, pfl.deserialize(run.sent[-1][cid]))
        scores = record_losses(base, pairs) - record_losses(adapted, pairs)
        pos, neg = scores[: len(members)], scores[len(members) :]
        test = permutation_test(
            ATTACK, pos, neg, target_fpr=target_fpr, permutations=permutations, seed=seed
        )
        out.append(ClientMembership(cid, test, bootstrap_ci(pos, neg, seed=seed), pos, neg))
    return out


def _membership_cells(results: Sequence[ClientMembership]) -> JsonObject:
    by_auc = max(results, key=lambda r: (r.test.auc, -r.test.auc_p))
    by_tpr = max(results, key=lambda r: (r.test.low_fpr.tpr, -r.test.low_fpr_p))
    point = by_tpr.test.low_fpr
    return {
        "mia_auc": {
            "value": round(by_auc.test.auc, 4),
            "ci95": [round(by_auc.auc_ci.low, 4), round(by_auc.auc_ci.high, 4)],
            "attack": ATTACK,
            "client": by_auc.client,
            "p_value": by_auc.test.auc_p,
        },
        "tpr_at_low_fpr": {
            "value": round(point.tpr, 4),
            "fpr": round(point.fpr, 4),
            "label": point.label,
            "attack": ATTACK,
            "client": by_tpr.client,
            "p_value": by_tpr.test.low_fpr_p,
        },
        "membership_by_client": {r.client: r.test.to_dict() for r in results},
    }


@dataclass
class _Measured:
    """What one parameter-FL run measured, before it is laid out as a row."""

    run: pfl.ParameterFLRun
    adapted_right: list[bool]
    base_right: list[bool]
    membership: list[ClientMembership]
    seconds: dict[str, float]


def _measure(
    federation: Federation,
    llm: LLM,
    config: pfl.ParameterFLConfig,
    *,
    target_fpr: float,
    permutations: int,
    progress: bool,
) -> _Measured:
    """Train, then score utility (adapted and base) and membership; timed, with a progress bar."""

    start, cpu_start = time.perf_counter(), time.process_time()
    total = config.rounds * len(federation.hospitals) + 2
    bar = tqdm(total=total, desc="parameter FL", disable=not progress)
    adapted = pfl.with_adapters(llm, config)

    def trained(rnd: int, cid: str, loss: float) -> None:
        bar.set_postfix_str(f"round {rnd + 1} {cid} loss {loss:.3f}")
        bar.update()

    try:
        run = pfl.run_parameter_fl(federation.hospitals, adapted, config, on_client=trained)
        tick = time.perf_counter()
        bar.set_postfix_str("tool accuracy")
        pfl.activate(adapted, [pfl.GLOBAL])
        pfl.set_state(adapted, pfl.GLOBAL, run.global_state)
        adapted_right = tool_choices(adapted, federation)
        base_right = tool_choices(llm, federation)
        bar.update()
        utility_s = time.perf_counter() - tick
        bar.set_postfix_str("membership")
        tick = time.perf_counter()
        results = membership(
            federation,
            llm,
            adapted,
            run,
            target_fpr=target_fpr,
            permutations=permutations,
            seed=config.seed,
        )
        bar.update()
    finally:
        bar.close()
    seconds = {
        "training": run.seconds,
        "utility": round(utility_s, 1),
        "membership": round(time.perf_counter() - tick, 1),
        "total": round(time.perf_counter() - start, 1),
        # this process's CPU time over its threads: wall time varies with the load
        "cpu_total": round(time.process_time() - cpu_start, 1),
    }
    return _Measured(run, adapted_right, base_right, results, seconds)


def _run_details(config: pfl.ParameterFLConfig, measured: _Measured, llm: LLM) -> JsonObject:
    """The row's ``parameter_fl`` block: settings, losses, sizes, seconds."""
    run = measured.run
    return {
        "rank": config.rank,
        "alpha": config.alpha,
        "target_modules": list(config.target_modules),
        "rounds": config.rounds,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "lr": config.lr,
        "wire_dtype": config.wire_dtype,
        "examples_per_client": run.examples,
        "train_loss_per_round": run.train_loss,
        "lora_parameters": sum(v.numel() for v in run.global_state.values()),
        "base_parameters": base_parameters(llm),
        "upload_bytes_per_round": run.bytes_per_client_round(),
        "broadcast_bytes_per_round": run.broadcast_bytes,
        "seconds": measured.seconds,
    }


def parameter_fl_row(
    federation: Federation,
    llm: LLM,
    config: pfl.ParameterFLConfig | None = None,
    *,
    target_fpr: float = 0.01,
    permutations: int = 999,
    progress: bool = True,
) -> JsonObject:
    """Train parameter FL for real on ``federation`` with ``llm``, attack it; the leakage row.

    ``llm`` is left untouched (the adapters live on a copy) and is the base
    model of every baseline.

    Raises:
        ConfigError: ``llm`` is not a transformers model, or bad settings.
        GenerationError: training or scoring failed.
    """
    config = config or pfl.ParameterFLConfig()
    measured = _measure(
        federation,
        llm,
        config,
        target_fpr=target_fpr,
        permutations=permutations,
        progress=progress,
    )
    uploads = measured.run.bytes_per_client_round()
    per_round = [
        round(float(np.mean([uploads[c][r] for c in uploads]))) for r in range(config.rounds)
    ]
    clients = len(federation.hospitals)
    n_items = clients * config.rounds
    return {
        "attacker_holds": "each client's global LoRA update every round, sender known",
        "seeds": [config.seed],
        "blocked_clients": [],
        "bytes_per_client": sum(per_round),
        "bytes_per_client_round": per_round[-1],
        "n_items": n_items,
        **_membership_cells(measured.membership),
        "canary_exposure_bits": None,
        "verbatim_pii": None,
        "fuzzy_pii": None,
        "pii_extraction_rate": None,
        "rougeL_extraction": None,
        # every update arrives under its sender's name: the channel attributes it
        "attribution_accuracy": {
            "value": 1.0,
            "ci95": wilson_interval(n_items, n_items),
            "chance": round(1 / clients, 4),
            "n_items": n_items,
            "channel": "sender",
        },
        "attribution_content_accuracy": None,
        "tool_accuracy": accuracy_figure(
            measured.adapted_right, f"global adapter: {UTILITY_METHOD}"
        ),
        "tool_accuracy_base_model": accuracy_figure(
            measured.base_right, f"base model: {UTILITY_METHOD}"
        ),
        "parameter_fl": _run_details(config, measured, llm),
        "note": NOT_APPLICABLE,
    }


def base_parameters(llm: LLM) -> int | None:
    """Distinct weights of ``llm``'s model (tied embeddings once), None for a stand-in."""
    model = getattr(llm, "model", None)
    return None if model is None else int(sum(p.numel() for p in model.parameters()))
