"""The leakage suite: compendium sharing against sample sharing, on the same games.

For each audited client, both release methods are audited in the same
record-membership game (same members, same non-members, same signals and
attacks) and attacked by extraction with the same targets, so their figures
compare directly. Cost is bounded by auditing at most ``max_clients`` clients,
by the audit's own LLM subsampling, and by ``extraction_targets``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fical_secure.attacks.extraction import ExtractionResult, extraction_attack, extraction_targets
from fical_secure.attacks.sample_sharing import sample_sharing
from fical_secure.audit.artefact import SharedArtefact, from_compendium
from fical_secure.audit.attacks import RECORD_MEMBERSHIP
from fical_secure.audit.auditor import AuditConfig, AuditResult, AuditTarget, audit_artefact
from fical_secure.audit.signals import CachingEmbedder, Embedder
from fical_secure.data.schema import Federation, HospitalData
from fical_secure.errors import AuditError
from fical_secure.jsontypes import JsonObject
from fical_secure.kcg.schema import Compendium
from fical_secure.llm.base import LLM
from fical_secure.tlu.embedding import default_embedder

METHODS = ("compendium", "sample_sharing")


def _by_owner(
    compendiums: Mapping[str, Compendium] | Sequence[Compendium],
) -> dict[str, Compendium]:
    if isinstance(compendiums, Mapping):
        return dict(compendiums)
    return {c.owner: c for c in compendiums}


@dataclass(frozen=True)
class MethodFigures:
    """One sharing method's audit figures for one client; :meth:`to_dict` is its report form."""

    auc: dict[str, float]
    auc_ci: dict[str, tuple[float, float]]
    tpr_at_1pct_fpr: dict[str, float]
    canary_exposure_bits: tuple[float, ...]
    pii_hits: int
    verbatim_pii_hits: int
    extraction: ExtractionResult | None  # None: no LLM or no extraction target
    n_items: int
    seconds: float

    @classmethod
    def of(cls, result: AuditResult, extraction: ExtractionResult | None) -> MethodFigures:
        attacks = result.attacks
        return cls(
            auc={name: r.metrics.auc for name, r in attacks.items()},
            auc_ci={
                name: (r.metrics.auc_ci.low, r.metrics.auc_ci.high) for name, r in attacks.items()
            },
            tpr_at_1pct_fpr={name: r.metrics.tpr_at_1pct.value for name, r in attacks.items()},
            canary_exposure_bits=tuple(c.exposure_bits for c in result.canaries),
            pii_hits=len(result.pii_hits),
            verbatim_pii_hits=sum(h.match == "verbatim" for h in result.pii_hits),
            extraction=extraction,
            n_items=len(result.item_ids),
            seconds=round(result.seconds, 2),
        )

    @property
    def max_auc(self) -> float:
        return max(self.auc.values(), default=float("nan"))

    def to_dict(self) -> JsonObject:
        return {
            "auc": self.auc,
            "auc_ci": {name: list(ci) for name, ci in self.auc_ci.items()},
            "tpr_at_1pct_fpr": self.tpr_at_1pct_fpr,
            "max_auc": self.max_auc,
            "canary_exposure_bits": list(self.canary_exposure_bits),
            "pii_hits": self.pii_hits,
            "verbatim_pii_hits": self.verbatim_pii_hits,
            "extracted_pii": {} if self.extraction is None else self.extraction.to_dict(),
            "n_items": self.n_items,
            "seconds": self.seconds,
        }


def _audit_client(
    hospital: HospitalData,
    federation: Federation,
    compendium: Compendium,
    llm: LLM | None,
    embedder: Embedder,
    cfg: AuditConfig,
    n_extraction: int,
) -> dict[str, MethodFigures]:
    samples, sample_game = sample_sharing(hospital, federation.manifest)
    comp_game = AuditTarget.from_hospital(hospital, federation.manifest)
    releases: dict[str, tuple[SharedArtefact, AuditTarget]] = {
        "compendium": (from_compendium(compendium), comp_game),
        "sample_sharing": (samples, sample_game),
    }
    # the same extraction targets for both methods: records both were built from
    targets = extraction_targets(sample_game.members, n_extraction)
    figures: dict[str, MethodFigures] = {}
    for method, (artefact, game) in releases.items():
        result = audit_artefact(artefact, game, embedder=embedder, llm=llm, config=cfg)
        extraction = None
        if llm is not None and targets:
            extraction = extraction_attack(
                artefact,
                targets,
                llm,
                embedder,
                context_items=cfg.context_items,
                max_context_chars=cfg.max_context_chars,
            )
        figures[method] = MethodFigures.of(result, extraction)
    return figures


def _summary(per_client: dict[str, dict[str, MethodFigures]]) -> JsonObject:
    """Per method: mean AUC / TPR per attack over clients, worst canary, total PII counts."""
    out: JsonObject = {}
    for method in METHODS:
        rows = [fig[method] for fig in per_client.values()]
        attacks = sorted({a for r in rows for a in r.auc})
        exposures = [b for r in rows for b in r.canary_exposure_bits]
        extracted = [r.extraction for r in rows if r.extraction is not None]
        out[method] = {
            "auc": {a: float(np.mean([r.auc[a] for r in rows if a in r.auc])) for a in attacks},
            "tpr_at_1pct_fpr": {
                a: float(np.mean([r.tpr_at_1pct_fpr[a] for r in rows if a in r.auc]))
                for a in attacks
            },
            "max_auc": float(max(r.max_auc for r in rows)),
            "max_canary_exposure_bits": max(exposures) if exposures else None,
            "pii_hits": sum(r.pii_hits for r in rows),
            "verbatim_pii_hits": sum(r.verbatim_pii_hits for r in rows),
            "extracted_pii": {
                "targets": sum(e.n_targets for e in extracted),
                "verbatim": sum(e.verbatim for e in extracted),
                "fuzzy": sum(e.fuzzy for e in extracted),
                "extracted": sum(e.verbatim + e.fuzzy for e in extracted),
            }
            if extracted
            else None,
        }
    return out


def run_leakage_suite(
    federation: Federation,
    llm: LLM | None,
    compendiums: Mapping[str, Compendium] | Sequence[Compendium],
    *,
    embedder: Embedder | None = None,
    config: AuditConfig | None = None,
    max_clients: int = 1,
    extraction_targets_per_client: int = 6,
) -> JsonObject:
    """Compendium sharing vs sample sharing: MI AUC, TPR@1%FPR, canary exposure, extraction.

    ``compendiums`` maps hospital ids to their compendiums (or lists them,
    keyed by ``owner``); the first ``max_clients`` hospitals with one are
    audited. ``llm=None`` runs the embedding, lexical and PII parts only;
    with an LLM, extraction always runs and the LLM membership signals run
    when ``config.use_llm``.

    Raises:
        AuditError: no hospital of the federation has a compendium.
    """
    start = time.perf_counter()
    cfg = config or AuditConfig()
    by_owner = _by_owner(compendiums)
    hospitals = [h for h in federation.hospitals if h.hospital_id in by_owner][:max_clients]
    if not hospitals:
        raise AuditError("no hospital of the federation has a compendium to audit")
    if embedder is None:
        embedder = default_embedder()
    cached = CachingEmbedder(embedder)
    per_client = {
        h.hospital_id: _audit_client(
            h,
            federation,
            by_owner[h.hospital_id],
            llm,
            cached,
            cfg,
            extraction_targets_per_client,
        )
        for h in hospitals
    }
    return {
        "game": RECORD_MEMBERSHIP.name,
        "game_description": RECORD_MEMBERSHIP.description,
        "model": getattr(llm, "name", None),
        "clients": [h.hospital_id for h in hospitals],
        "methods": _summary(per_client),
        "per_client": {
            client: {method: fig.to_dict() for method, fig in figures.items()}
            for client, figures in per_client.items()
        },
        "seconds": round(time.perf_counter() - start, 2),
    }
