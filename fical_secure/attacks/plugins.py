"""Attacks on a sharing mode, each a small plugin naming its game and its threat model.

A plugin reads what the attacker holds under one mode (every client's
release, or the one pooled artefact of anonymous aggregation) and returns its
figures. Client ``c``'s records are always played against the artefact that
holds what ``c`` shared: its own release, or the pool. The membership, canary
and verbatim-PII figures come from one audit per client
(:func:`fical_secure.audit.auditor.audit_artefact`), computed once and shared;
membership figures are decided by the release policy's permutation tests, so
the TPR is the one at the lowest FPR the non-members resolve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fical_secure.attacks import extraction as ex
from fical_secure.attacks.context import ModeContext
from fical_secure.attacks.utility import NO_THREAT, ToolUtility
from fical_secure.audit.attacks import pooled_attacks
from fical_secure.audit.exposure import exposure_figure
from fical_secure.audit.metrics import Interval, bootstrap_mean_ci
from fical_secure.audit.metrics import wilson_interval as wilson
from fical_secure.compliance.threat_models import PACKAGED, packaged_model
from fical_secure.errors import ConfigError
from fical_secure.jsontypes import JsonObject
from fical_secure.release.decision import membership_decision
from fical_secure.release.significance import permutation_test


class AttackPlugin(Protocol):
    """An attack: its name, the game it plays, whose threat it models, and its figures."""

    @property
    def name(self) -> str: ...
    @property
    def game(self) -> str: ...
    @property
    def threat_model(self) -> str: ...
    @property
    def needs_llm(self) -> bool: ...

    def run(self, ctx: ModeContext) -> JsonObject: ...


@dataclass(frozen=True)
class MembershipInference:
    """Best of the auditor's attacks (lexical, embedding, LLM likelihood, Min-K%).

    The headline figures play the pooled game: every client's members and
    non-members, each record against the artefact its client shared, one
    threshold for all (:func:`~fical_secure.audit.attacks.pooled_attacks`), so
    the AUC's interval and the TPR at 1% FPR are resolved by the federation's
    records together; the strongest attack's figure is reported (the attacker
    picks its attack), with its bootstrap CI, permutation p-value and the
    records a side. That maximum over attacks is biased upwards (a multiple
    comparison: with two attacks on an artefact that leaks nothing, the larger
    of two noisy TPRs is reported), so each headline figure also carries the
    number of attacks it is the maximum of and its Bonferroni-adjusted p-value,
    and ``mia_by_attack`` gives every attack's figures with their own p-values;
    the reported value itself is never lowered. Beside them, the strongest
    attack on any one client (``mia_auc_per_client``) and the release policy's
    findings on the per-client games (what the round's gate decides).
    """

    name: str = "membership_inference"
    game: str = "record-membership"
    threat_model: str = "research-consumer"
    needs_llm: bool = False

    def run(self, ctx: ModeContext) -> JsonObject:
        audits = list(ctx.audits().values())
        if not audits:
            return {"mia_auc": None, "tpr_at_low_fpr": None, "note": "nothing released"}
        decision = membership_decision(audits, ctx.policy)
        worst_client = decision.worst("auc")
        assert worst_client is not None
        by_client = {r.client_id: r for r in audits}
        client_metrics = by_client[worst_client.client].attacks[worst_client.test.attack].metrics
        pooled = pooled_attacks(
            [r.attacks for r in audits], n_resamples=ctx.config.n_bootstrap, seed=ctx.config.seed
        )
        tests = {
            name: permutation_test(
                name,
                res.member_scores,
                res.nonmember_scores,
                target_fpr=ctx.policy.target_fpr,
                permutations=ctx.policy.permutations,
                seed=ctx.config.seed * 1009 + index,
            )
            for index, (name, res) in enumerate(sorted(pooled.items()))
        }
        auc_name = max(tests, key=lambda n: (tests[n].auc, -tests[n].auc_p))
        tpr_name = max(tests, key=lambda n: (tests[n].low_fpr.tpr, -tests[n].low_fpr_p))
        auc_metrics, tpr_metrics = pooled[auc_name].metrics, pooled[tpr_name].metrics
        point = tests[tpr_name].low_fpr
        n_attacks = len(tests)

        def adjusted(p: float) -> float:  # Bonferroni over the attacks the maximum is taken over
            return round(min(1.0, p * n_attacks), 4)

        return {
            "mia_auc": {
                "value": round(tests[auc_name].auc, 4),
                "ci95": _interval(auc_metrics.auc_ci),
                "attack": auc_name,
                "p_value": tests[auc_name].auc_p,
                "max_over_attacks": n_attacks,
                "p_value_bonferroni": adjusted(tests[auc_name].auc_p),
                "n_members": auc_metrics.n_members,
                "n_nonmembers": auc_metrics.n_nonmembers,
                "game": "pooled over clients",
            },
            "tpr_at_low_fpr": {
                "value": round(point.tpr, 4),
                "fpr": round(point.fpr, 4),
                "label": point.label,
                "resolved": point.resolved,
                "ci95": _interval(tpr_metrics.tpr_at_1pct_ci) if point.resolved else None,
                "attack": tpr_name,
                "p_value": tests[tpr_name].low_fpr_p,
                "max_over_attacks": n_attacks,
                "p_value_bonferroni": adjusted(tests[tpr_name].low_fpr_p),
                "n_members": tpr_metrics.n_members,
                "n_nonmembers": tpr_metrics.n_nonmembers,
                "game": "pooled over clients",
            },
            "mia_by_attack": {
                name: {
                    "auc": round(res.metrics.auc, 4),
                    "ci95": _interval(res.metrics.auc_ci),
                    "auc_p_value": tests[name].auc_p,
                    "tpr_at_1pct_fpr": round(res.metrics.tpr_at_1pct.value, 4),
                    "tpr_at_1pct_fpr_ci95": _interval(res.metrics.tpr_at_1pct_ci),
                    "tpr_p_value": tests[name].low_fpr_p,
                    "n_members": res.metrics.n_members,
                    "n_nonmembers": res.metrics.n_nonmembers,
                }
                for name, res in sorted(pooled.items())
            },
            "mia_auc_per_client": {
                "value": round(worst_client.test.auc, 4),
                "ci95": _interval(client_metrics.auc_ci),
                "attack": worst_client.test.attack,
                "client": worst_client.client,
                "p_value": worst_client.test.auc_p,
                "n_members": client_metrics.n_members,
                "n_nonmembers": client_metrics.n_nonmembers,
            },
            "membership_findings": len(decision.findings),
        }


def _interval(ci: Interval) -> list[float]:
    return [round(ci.low, 4), round(ci.high, 4)]


@dataclass(frozen=True)
class CanaryExposure:
    """Secret Sharer exposure of the canaries planted in member records, beside its null.

    The figure is the mean over every client's canaries with a bootstrap CI
    (:func:`~fical_secure.audit.exposure.exposure_figure`): a maximum over
    ``n`` canaries exceeds 2 bits with probability ``1 - (3/4)^n`` when
    nothing leaks, so it is reported beside the mean, with its p-value under
    that null, not in its place. The null is also measured: control secrets
    scored under each canary's context give the control mean and the
    planted - control difference.
    """

    name: str = "canary_exposure"
    game: str = "secret-sharer"
    threat_model: str = "research-consumer"
    needs_llm: bool = True

    def run(self, ctx: ModeContext) -> JsonObject:
        exposures = [c for r in ctx.audits().values() for c in r.canaries]
        fig = exposure_figure(exposures, seed=ctx.config.seed)
        return {
            "canary_exposure_bits": {"value": None, "n_canaries": 0}
            if fig is None
            else fig.to_dict()
        }


@dataclass(frozen=True)
class VerbatimPII:
    """Planted member values readable in the release (no model needed)."""

    name: str = "verbatim_pii"
    game: str = "pii-in-release"
    threat_model: str = "honest-but-curious-server"
    needs_llm: bool = False

    def run(self, ctx: ModeContext) -> JsonObject:
        hits = [h for r in ctx.audits().values() for h in r.pii_hits]
        return {"verbatim_pii": sum(h.match != "fuzzy" for h in hits), "fuzzy_pii": len(hits)}


@dataclass(frozen=True)
class PIIExtraction:
    """Prompt an agent holding the release with record prefixes (Carlini et al. 2021).

    Two figures from the same continuations: the rate of targets whose planted
    value comes back (verbatim or fuzzy), and ROUGE-L F1 of the continuation
    against the record's true continuation with the same length budget
    (FedPIT's metric), beside its chance level: the mean F1 against the other
    targets' continuations, which a model reaches from the record template.
    """

    name: str = "pii_extraction"
    game: str = "training-data-extraction"
    threat_model: str = "research-consumer"
    needs_llm: bool = True
    targets_per_client: int = 4  # 12 targets a mode with the runner's 3 clients

    def run(self, ctx: ModeContext) -> JsonObject:
        assert ctx.llm is not None
        hospitals = {h.hospital_id: h for h in ctx.federation.hospitals}
        plan = []  # (memo key, client's targets, their prompts) of every client not yet attacked
        results: dict[str, ex.ExtractionResult] = {}
        for cid, release in ctx.targets().items():
            targets = ex.extraction_targets(hospitals[cid].members, self.targets_per_client)
            key = ctx.key(("extraction", cid, self.targets_per_client), release)
            if key in ctx.memo:
                results[cid] = ctx.memo[key]
                continue
            prompts = ex.extraction_prompts(
                release.artefact,
                targets,
                ctx.embedder,
                context_items=ctx.config.context_items,
                max_context_chars=ctx.config.max_context_chars,
            )
            plan.append((cid, key, targets, prompts))
        # every client's prompts in one batched call: decoding steps are what costs on CPU
        outputs = ex.generate_continuations(
            ctx.llm, [p for *_, prompts in plan for p in prompts], ex.MAX_NEW_TOKENS
        )
        at = 0
        for cid, key, targets, prompts in plan:
            results[cid] = ctx.memo[key] = ex.score_extraction(
                targets, outputs[at : at + len(prompts)]
            )
            at += len(prompts)
        found = sum(r.verbatim + r.fuzzy for r in results.values())
        total = sum(r.n_targets for r in results.values())
        rouge = [v for r in results.values() for v in r.rouge_l]
        chance = [v for r in results.values() for v in r.rouge_l_chance]
        rate = found / total if total else 0.0
        return {
            "pii_extraction_rate": {
                "value": round(rate, 4),
                "ci95": wilson(found, total),
                "n_targets": total,
            },
            "rougeL_extraction": _mean_figure(rouge, chance, ctx.config.seed),
        }


def _mean_figure(values: list[float], chance: list[float], seed: int) -> JsonObject | None:
    """Mean of per-target scores with a bootstrap CI, beside the mean chance score."""
    if not values:
        return None
    ci = bootstrap_mean_ci(values, seed=seed)
    return {
        "value": round(float(np.mean(values)), 4),
        "ci95": [round(ci.low, 4), round(ci.high, 4)],
        "chance": round(float(np.mean(chance)), 4),
        "n_targets": len(values),
        "tokens": "whitespace words; reference cut to the continuation's length",
    }


@dataclass(frozen=True)
class Attribution:
    """Writer attribution: the attacker names the client that wrote each item it holds.

    The game: the challenger builds the mode's artefacts; for every item the
    attacker holds it outputs one client id, and is right when that client
    wrote the item (for a pooled entry several clients wrote, naming any of
    them is right, so its chance is writers / clients). The attacker knows the
    client ids, each client's held-out (non-member) records, as auxiliary
    knowledge of its data distribution, and what the mode shows it: under
    per-client sharing the sender of each release (the server opens signed
    envelopes), under anonymous aggregation nothing but the pooled entries
    (their order and ids follow content, not senders). Two figures:

    * ``attribution_accuracy``: the attacker's best guess, the sender where the
      mode shows one, else the content guess (``channel`` says which);
    * ``attribution_content_accuracy``: content only, every mode alike (the
      nearest client by cosine to its auxiliary records), which is what a
      consumer of an anonymised union could do.

    Under anonymous aggregation the first falls to the second: to chance when
    the clients' content is alike, above it when their tool mixes differ.
    """

    name: str = "attribution"
    game: str = "writer-attribution"
    threat_model: str = "honest-but-curious-server"
    needs_llm: bool = False

    def run(self, ctx: ModeContext) -> JsonObject:
        clients = [h for h in ctx.federation.hospitals]
        held = ctx.sharing.held()
        if len(clients) < 2 or not held:
            return {"attribution_accuracy": None, "attribution_content_accuracy": None}
        ids = [h.hospital_id for h in clients]
        aux = [ctx.embedder.encode([e.text() for e in h.nonmembers]) for h in clients]
        best = content = total = 0
        chance = 0.0
        sender_shown = ctx.sharing.pooled is None
        for release in held:
            items = ctx.embedder.encode(list(release.artefact.texts))
            scores = np.stack([(items @ a.T).max(axis=1) for a in aux], axis=1)
            for j, i in enumerate(scores.argmax(axis=1)):
                writers = release.writers_of(j)
                guess = ids[int(i)]
                content += guess in writers
                best += (release.artefact.owner if sender_shown else guess) in writers
                chance += len(writers & set(ids)) / len(ids)
                total += 1

        def figure(right: int) -> JsonObject:
            return {
                "value": round(right / total, 4),
                "ci95": wilson(right, total),
                "chance": round(chance / total, 4),
                "n_items": total,
            }

        return {
            "attribution_accuracy": {
                **figure(best),
                "channel": "sender" if sender_shown else "content",
            },
            "attribution_content_accuracy": figure(content),
        }


SUITES: dict[str, tuple[AttackPlugin, ...]] = {
    "default": (
        MembershipInference(),
        CanaryExposure(),
        VerbatimPII(),
        PIIExtraction(),
        Attribution(),
        ToolUtility(),
    ),
    "quick": (MembershipInference(), VerbatimPII(), Attribution(), ToolUtility()),
}


def describe(plugins: Sequence[AttackPlugin]) -> list[JsonObject]:
    """Name, game and threat model of each plugin (with its shipped document), for the report.

    Raises:
        ConfigError: a plugin names a threat model the package does not ship.
    """

    out = []
    for p in plugins:
        row: JsonObject = {
            "name": p.name,
            "game": p.game,
            "threat_model": p.threat_model,
            "needs_llm": p.needs_llm,
        }
        if p.threat_model != NO_THREAT:
            try:
                row["threat_model_title"] = packaged_model(p.threat_model).title
            except OSError:
                raise ConfigError(
                    f"attack {p.name!r} names threat model {p.threat_model!r}, which has no "
                    f"document in {PACKAGED}: write it or name a shipped one"
                ) from None
        out.append(row)
    return out
