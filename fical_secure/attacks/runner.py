"""``fical-secure attack``: every sharing mode of one federation under one attacker, recorded.

Writes ``DIR/leakage.json`` (a row per mode, each figure with its CI and the
seed), ``DIR/roc_<mode>.png`` (log-log ROC of the strongest membership attack
per client), ``DIR/leakage_vs_utility.png`` and ``DIR/summary.md``; targets
for the hardened mode are recorded met or not.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from tqdm.auto import tqdm

from fical_secure.atomic import write_text_atomic
from fical_secure.attacks import parameter_fl_audit as audit
from fical_secure.attacks.communication import MeasuredAdapter, communication
from fical_secure.attacks.context import ModeContext
from fical_secure.attacks.modes import MODES, TEXT_MODES, build_modes
from fical_secure.attacks.parameter_fl import ParameterFLConfig
from fical_secure.attacks.parameter_fl_audit import parameter_fl_row
from fical_secure.attacks.plots import leakage_vs_utility_png, roc_pngs
from fical_secure.attacks.plugins import SUITES, describe
from fical_secure.attacks.report import (
    AttackerBudget,
    FederationShape,
    LeakageRecord,
    Rows,
)
from fical_secure.attacks.summary import summary_markdown
from fical_secure.attacks.synthetic import SyntheticConfig
from fical_secure.attacks.targets import (
    RELEASE_ROWS,
    leakage_targets,
    records_per_side,
    runtime_target,
)
from fical_secure.audit.auditor import AuditConfig
from fical_secure.audit.signals import CachingEmbedder
from fical_secure.compliance.threat_models import packaged_model
from fical_secure.config.profile import load_profile, resolve_profile
from fical_secure.data.generator import generate_federation
from fical_secure.errors import ConfigError
from fical_secure.jsontypes import JsonObject, as_int, at
from fical_secure.llm.loader import load_llm
from fical_secure.tlu.embedding import default_embedder
from fical_secure.untrusted import MAX_CONFIG_BYTES, loads_yaml, read_regular

if TYPE_CHECKING:
    from fical_secure.attacks.parameter_fl import ParameterFLConfig
    from fical_secure.data.schema import Federation
    from fical_secure.llm.base import LLM


@dataclass(frozen=True)
class AttackSettings:
    """One run: the federation, the attacker's budget, where it goes."""

    out: Path
    suite: str = "default"
    clients: int = 3  # secure aggregation needs three (with two, each learns the other's input)
    # members and non-members per client: the pooled membership game plays
    # clients x (episodes - canaries) members (canary hosts are left out of it) and
    # clients x episodes non-members, >= 256 a side so that the AUC's 95% CI half-width
    # is <= 0.05 at chance and a 1% FPR is resolved
    episodes: int = 110
    seed: int = 0
    eval_per_tool: int = 3
    profile: str = "strict"
    # the DP release row: a profile (name or file) whose release has a ``dp`` section;
    # None derives it from ``profile`` (see :func:`release_profiles`)
    dp_profile: str | None = None
    # records a side the LLM scores per client's audit (up to 300 pooled a mode with 3
    # clients): what the LLM scores is most of the run's cost on CPU
    llm_records: int = 100
    # the rows the LLM attacks run on: "release" (the released rows the targets bound,
    # RELEASE_ROWS) or "all"; the other rows get the model-free attacks only
    llm_rows: str = "release"
    # canaries the generator plants per client, every one measured (30 a mode with 3
    # clients): the figure is their mean, and an unseen canary's exposure has a standard
    # deviation near 1.4 bits, so 30 put the mean's CI half-width near 0.5 bits; each is
    # ranked among canary_candidates random secrets (rank cap log2(64) = 6 bits) beside
    # canary_controls secrets never written anywhere (the null, measured in the run). The
    # candidates and controls of a canary share one context: one prefix pass and short
    # continuations (fical_secure.llm.prefix)
    canaries: int = 10
    canary_candidates: int = 63
    canary_controls: int = 3
    synthetic_examples: int = 5  # synthetic_sharing: examples each client's model writes (cap)
    synthetic_tokens: int = 64  # ... and new tokens per example (a request and a call)
    model: str | None = None
    progress: bool = True
    # train and attack LoRA FedAvg: 225 s with 2 rounds on 2 lightly shared cores (401 s under
    # heavier load), training about half of it (benchmarks/results/parameter_fl.json)
    parameter_fl: bool = True
    parameter_fl_rounds: int = 2


# the DP release the DP row runs when the hardened profile has none: the values strict.yaml
# documents for its ``release.dp`` section, chosen from benchmarks/results/dp_tradeoff*.json
# (one claim a patient kept more of the tool-accuracy gain than two at epsilon 8; below 8
# a hospital of tens to a hundred patients releases almost nothing; threat_models/dp-release.md)
DEFAULT_DP: dict[str, float | int] = {
    "epsilon": 8.0,
    "delta": 1.0e-6,
    "max_claims_per_subject": 1,
    "budget_epsilon": 16.0,
}
LLM_ROWS = ("release", "all")


def _extraction_targets(plugins: tuple[Any, ...]) -> int | None:
    return next(
        (int(p.targets_per_client) for p in plugins if hasattr(p, "targets_per_client")), None
    )


def _communication(rows: Rows) -> JsonObject:
    sizes = {
        mode: as_int(row.get("bytes_per_client")) or 0
        for mode, row in rows.items()
        if mode in TEXT_MODES
    }
    if sizes.get("compendium_hardened", 0) <= 0:
        return {"note": "every client was blocked in the hardened mode: no baseline to divide by"}
    lora = at(rows.get("parameter_fl", {}), "parameter_fl")
    sent = as_int(at(rows.get("parameter_fl", {}), "bytes_per_client_round"))
    parameters, rank = as_int(at(lora, "lora_parameters")), as_int(at(lora, "rank"))
    if sent is None or parameters is None or rank is None:  # parameter FL was not run
        return communication(sizes)
    measured = MeasuredAdapter(
        bytes_per_round=sent,
        parameters=parameters,
        base_parameters=as_int(at(lora, "base_parameters")),
        wire_dtype=str(at(lora, "wire_dtype")),
    )
    return communication(sizes, lora_rank=rank, measured=measured)


def _parameter_fl_config(settings: AttackSettings, suite_has_llm: bool) -> ParameterFLConfig | None:
    """The parameter-FL settings when the run trains it (checked before anything runs).

    Raises:
        ConfigError: bad rounds.
    """

    if not settings.parameter_fl or not suite_has_llm:  # the quick suite has no LLM attacks
        return None
    return ParameterFLConfig(rounds=settings.parameter_fl_rounds, seed=settings.seed)


def _parameter_fl_row(
    settings: AttackSettings,
    config: ParameterFLConfig,
    federation: Federation,
    llm: LLM,
    target_fpr: float,
) -> JsonObject:
    """The ``parameter_fl`` row: LoRA FedAvg trained on the federation and attacked."""

    row = parameter_fl_row(
        federation, llm, config, target_fpr=target_fpr, progress=settings.progress
    )
    return {"description": MODES["parameter_fl"], **row}


def _parameter_fl_attack() -> JsonObject:
    """The LOSS attack on adapter updates, described like the suite's plugins."""

    return {
        "name": audit.ATTACK,
        "game": audit.GAME,
        "threat_model": audit.THREAT_MODEL,
        "needs_llm": True,
        "threat_model_title": packaged_model(audit.THREAT_MODEL).title,
        "modes": ["parameter_fl"],
    }


def release_profiles(profile: str, dp_profile: str | None, out: Path) -> tuple[str, str]:
    """(k-only profile, DP profile) of the two released rows, as names or files.

    An explicit ``dp_profile`` is used as given. Otherwise, when ``profile``'s
    release has no ``dp`` section, the DP row runs ``profile`` with
    :data:`DEFAULT_DP` added; when it has one, the DP row runs it as is and the
    k-only row runs it without that section. A derived profile is written
    into ``out`` (and named in the record).

    Raises:
        ConfigError: a profile that cannot be read, or one that is not valid.
    """
    source = resolve_profile(profile)
    if dp_profile is not None:
        load_profile(resolve_profile(dp_profile))  # checked before anything runs
        return profile, dp_profile
    raw = loads_yaml(read_regular(source, max_bytes=MAX_CONFIG_BYTES))
    release = raw.get("release") if isinstance(raw, dict) else None
    if not isinstance(release, dict):
        raise ConfigError(f"profile {source} has no release section to derive the DP row from")
    has_dp = release.get("dp") is not None
    if has_dp:
        release.pop("dp")
    else:
        release["dp"] = dict(DEFAULT_DP)
    name = f"{source.stem}-{'k-only' if has_dp else 'dp'}"
    raw["name"] = name
    out.mkdir(parents=True, exist_ok=True)
    derived = out / f"{name}.yaml"
    write_text_atomic(derived, yaml.safe_dump(raw, sort_keys=False))
    load_profile(derived)  # valid before anything runs
    return (str(derived), profile) if has_dp else (profile, str(derived))


def run_attacks(settings: AttackSettings) -> LeakageRecord:
    """Build every mode, run the suite's plugins on each, write the record; returns it.

    Raises:
        ConfigError: unknown suite or bad sizes (nothing runs).
        FicalError: a component failed.
    """
    if settings.suite not in SUITES:
        raise ConfigError(f"unknown suite {settings.suite!r}; known: {', '.join(SUITES)}")
    if settings.clients < 2 or settings.episodes < 4:
        raise ConfigError("--clients must be >= 2 (attribution needs two) and --episodes >= 4")
    if settings.llm_rows not in LLM_ROWS:
        raise ConfigError(
            f"--llm-rows must be one of {', '.join(LLM_ROWS)}, not {settings.llm_rows!r}"
        )
    if not 0 <= settings.canaries < settings.episodes:
        raise ConfigError(
            f"--canaries must be between 0 and --episodes - 1 ({settings.episodes - 1}), "
            f"got {settings.canaries}"
        )
    if not 1 <= settings.llm_records <= settings.episodes:
        raise ConfigError(
            f"--llm-records must be between 1 and --episodes ({settings.episodes}), "
            f"got {settings.llm_records}"
        )

    start = time.perf_counter()
    policy = load_profile(resolve_profile(settings.profile)).release
    plugins = SUITES[settings.suite]
    attacks = describe(plugins)  # before any work: each names a shipped threat model
    lora = _parameter_fl_config(settings, any(p.needs_llm for p in plugins))
    config = AuditConfig(
        # the quick suite's membership figures are the embedding and lexical attacks only
        # (the round's own gate, inside the modes, still audits as the profile says)
        use_llm=any(p.needs_llm for p in plugins),
        llm_records_per_split=settings.llm_records,
        max_canaries=settings.canaries,
        canary_candidates=settings.canary_candidates,
        canary_controls=settings.canary_controls,
        seed=settings.seed,
    )
    # written only once every setting is valid: a refused run leaves its folder empty
    k_only, dp_profile = release_profiles(settings.profile, settings.dp_profile, settings.out)
    federation = generate_federation(
        settings.clients,
        seed=settings.seed,
        episodes_per_hospital=settings.episodes,
        nonmembers_per_hospital=settings.episodes,
        eval_per_tool=settings.eval_per_tool,
        canaries_per_hospital=settings.canaries,
    )
    # one set of float32 weights scores and generates: the extraction attacker's model is
    # the scoring model, and bfloat16 is emulated (several times slower) on CPUs without it
    llm = load_llm(settings.model, dtype="float32")
    if lora is not None and not hasattr(llm, "model"):
        raise ConfigError(f"parameter_fl trains LoRA on a transformers model, not {llm.name}")
    embedder = CachingEmbedder(default_embedder())
    # each release is the round's own, its gate included (the gate scores the records a
    # round's gate does): the attacker's budget (--llm-records) is spent on attacking it
    modes = build_modes(
        federation,
        llm,
        profile=k_only,
        dp_profile=dp_profile,
        synthetic=SyntheticConfig(
            max_examples=settings.synthetic_examples,
            max_new_tokens=settings.synthetic_tokens,
            seed=settings.seed,
        ),
        progress=settings.progress,
    )
    rows: Rows = {}
    contexts: dict[str, ModeContext] = {}
    memo: dict[tuple[Any, ...], Any] = {}  # an artefact two modes share is attacked once
    bar = tqdm(total=len(modes) * len(plugins), desc="attacks", disable=not settings.progress)
    for mode, sharing in modes.items():
        # the LLM attacks bound the released rows; elsewhere the model-free ones (sample
        # sharing's own leak is total without a model) unless --llm-rows all
        mode_llm = llm if settings.llm_rows == "all" or mode in RELEASE_ROWS else None
        mode_config = config if mode_llm is not None else replace(config, use_llm=False)
        ctx = ModeContext(mode, sharing, federation, embedder, mode_llm, mode_config, policy, memo)
        row: JsonObject = {
            "description": MODES[mode],
            "attacker_holds": "one pooled multiset, no senders"
            if sharing.pooled is not None
            else "one release per client, sender known",
            "seeds": [settings.seed],
            "blocked_clients": list(sharing.blocked),
            "bytes_per_client": round(sum(sharing.sent_bytes.values()) / len(sharing.clients)),
            "n_items": sum(len(r.artefact) for r in sharing.held()),
            "rougeL_extraction": None,  # replaced by the extraction plugin where the suite has it
        }
        if sharing.note:
            row["note"] = sharing.note
        if mode_llm is None and config.use_llm:
            row["llm_attacks"] = "not run on this row (--llm-rows release)"
        for plugin in plugins:
            if plugin.needs_llm and mode_llm is None:
                continue
            row.update(plugin.run(ctx))
            bar.update()
        rows[mode], contexts[mode] = row, ctx
    bar.close()
    if lora is not None:
        rows["parameter_fl"] = _parameter_fl_row(settings, lora, federation, llm, policy.target_fpr)
        attacks.append(_parameter_fl_attack())
    settings.out.mkdir(parents=True, exist_ok=True)
    plots = (*roc_pngs(contexts, settings.out), leakage_vs_utility_png(rows, settings.out))
    seconds = round(time.perf_counter() - start, 1)
    record = LeakageRecord(
        date=datetime.now(UTC).date().isoformat(),
        federation=FederationShape(
            clients=settings.clients,
            episodes_per_client=settings.episodes,
            seed=settings.seed,
            eval_requests=len(federation.eval_requests),
        ),
        attacker="one adversary per mode: the server, holding what the mode delivers "
        "(each client's release with its sender, or the pooled multiset without senders), "
        "the model, and each client's held-out records for attribution",
        suite=settings.suite,
        attacker_budget=AttackerBudget(
            llm_records_per_side=settings.llm_records,
            llm_rows=settings.llm_rows,
            canaries_per_client=settings.canaries,
            canary_candidates=settings.canary_candidates,
            canary_controls=settings.canary_controls,
            extraction_targets_per_client=_extraction_targets(plugins),
            synthetic_examples_per_client=settings.synthetic_examples,
            synthetic_new_tokens=settings.synthetic_tokens,
        ),
        attacks=tuple(attacks),
        profile=settings.profile,
        profiles={"compendium_hardened": k_only, "compendium_dp": dp_profile},
        model=llm.name,
        rows=rows,
        records_per_side=records_per_side(rows),
        targets={**leakage_targets(rows), "attack run seconds": runtime_target(seconds)},
        communication=_communication(rows),
        plots=plots,
        seconds=seconds,
    )
    write_text_atomic(settings.out / "leakage.json", json.dumps(record.to_dict(), indent=2) + "\n")
    write_text_atomic(settings.out / "summary.md", summary_markdown(record))
    return record
