"""Attacks on a sharing mode, each a small plugin naming its game and its threat model.

A plugin reads one mode's releases (every client's) and returns its figures.
The membership, canary and verbatim-PII figures come from one audit per
client (:func:`fical_secure.audit.auditor.audit_artefact`), computed once and
shared; membership figures are decided by the release policy's permutation
tests, so the TPR is the one at the lowest FPR the non-members resolve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fical_secure.attacks.modes import Release
from fical_secure.audit.auditor import AuditConfig, AuditResult, AuditTarget, audit_artefact
from fical_secure.audit.metrics import wilson_interval as wilson
from fical_secure.audit.signals import Embedder
from fical_secure.data.schema import Federation
from fical_secure.llm.base import LLM
from fical_secure.release.decision import membership_decision
from fical_secure.release.policy import ReleasePolicy


@dataclass
class ModeContext:
    """One mode's releases and what every plugin shares: data, models, policy, audits."""

    mode: str
    releases: dict[str, Release]
    federation: Federation
    embedder: Embedder
    llm: LLM | None
    config: AuditConfig
    policy: ReleasePolicy
    _audits: dict[str, AuditResult] = field(default_factory=dict)

    def released(self) -> dict[str, Release]:
        """Clients that released at least one item."""
        return {c: r for c, r in self.releases.items() if len(r.artefact) > 0}

    def audits(self) -> dict[str, AuditResult]:
        """One record-membership audit per releasing client (computed once)."""
        if not self._audits:
            hospitals = {h.hospital_id: h for h in self.federation.hospitals}
            for cid, release in self.released().items():
                target = AuditTarget.from_hospital(hospitals[cid], self.federation.manifest)
                self._audits[cid] = audit_artefact(
                    release.artefact,
                    target,
                    embedder=self.embedder,
                    llm=self.llm,
                    config=self.config,
                )
        return self._audits


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

    def run(self, ctx: ModeContext) -> dict[str, Any]: ...


@dataclass(frozen=True)
class MembershipInference:
    """Best of the auditor's attacks (lexical, embedding, LLM likelihood, Min-K%)."""

    name: str = "membership_inference"
    game: str = "record-membership"
    threat_model: str = "research-consumer"
    needs_llm: bool = False

    def run(self, ctx: ModeContext) -> dict[str, Any]:
        audits = list(ctx.audits().values())
        if not audits:
            return {"mia_auc": None, "tpr_at_low_fpr": None, "note": "nothing released"}
        decision = membership_decision(audits, ctx.policy)
        worst_auc, worst_tpr = decision.worst("auc"), decision.worst("tpr")
        assert worst_auc is not None and worst_tpr is not None
        by_client = {r.client_id: r for r in audits}
        metrics = by_client[worst_auc.client].attacks[worst_auc.test.attack].metrics
        point = worst_tpr.test.low_fpr
        return {
            "mia_auc": {
                "value": round(worst_auc.test.auc, 4),
                "ci95": [round(metrics.auc_ci.low, 4), round(metrics.auc_ci.high, 4)],
                "attack": worst_auc.test.attack,
                "client": worst_auc.client,
                "p_value": worst_auc.test.auc_p,
            },
            "tpr_at_low_fpr": {
                "value": round(point.tpr, 4),
                "fpr": round(point.fpr, 4),
                "label": point.label,
                "attack": worst_tpr.test.attack,
                "p_value": worst_tpr.test.low_fpr_p,
            },
            "membership_findings": len(decision.findings),
        }


@dataclass(frozen=True)
class CanaryExposure:
    """Secret Sharer exposure of the canaries planted in member records."""

    name: str = "canary_exposure"
    game: str = "secret-sharer"
    threat_model: str = "research-consumer"
    needs_llm: bool = True

    def run(self, ctx: ModeContext) -> dict[str, Any]:
        bits = [c.exposure_bits for r in ctx.audits().values() for c in r.canaries]
        return {
            "canary_exposure_bits": {
                "value": round(max(bits), 4) if bits else None,
                "n_canaries": len(bits),
                "mean": round(float(np.mean(bits)), 4) if bits else None,
            }
        }


@dataclass(frozen=True)
class VerbatimPII:
    """Planted member values readable in the release (no model needed)."""

    name: str = "verbatim_pii"
    game: str = "pii-in-release"
    threat_model: str = "honest-but-curious-server"
    needs_llm: bool = False

    def run(self, ctx: ModeContext) -> dict[str, Any]:
        hits = [h for r in ctx.audits().values() for h in r.pii_hits]
        return {"verbatim_pii": sum(h.match != "fuzzy" for h in hits), "fuzzy_pii": len(hits)}


@dataclass(frozen=True)
class PIIExtraction:
    """Prompt an agent holding the release with record prefixes (Carlini et al. 2021)."""

    name: str = "pii_extraction"
    game: str = "training-data-extraction"
    threat_model: str = "research-consumer"
    needs_llm: bool = True
    targets_per_client: int = 6

    def run(self, ctx: ModeContext) -> dict[str, Any]:
        from fical_secure.attacks.extraction import extraction_attack, extraction_targets

        assert ctx.llm is not None
        hospitals = {h.hospital_id: h for h in ctx.federation.hospitals}
        found = total = 0
        for cid, release in ctx.released().items():
            targets = extraction_targets(hospitals[cid].members, self.targets_per_client)
            result = extraction_attack(
                release.artefact,
                targets,
                ctx.llm,
                ctx.embedder,
                context_items=ctx.config.context_items,
                max_context_chars=ctx.config.max_context_chars,
            )
            found += result.verbatim + result.fuzzy
            total += result.n_targets
        rate = found / total if total else 0.0
        return {
            "pii_extraction_rate": {
                "value": round(rate, 4),
                "ci95": wilson(found, total),
                "n_targets": total,
            }
        }


@dataclass(frozen=True)
class Attribution:
    """Which client wrote an item: nearest client by its held-out records (content only)."""

    name: str = "attribution"
    game: str = "writer-attribution"
    threat_model: str = "honest-but-curious-server"
    needs_llm: bool = False

    def run(self, ctx: ModeContext) -> dict[str, Any]:
        clients = [h for h in ctx.federation.hospitals]
        released = ctx.released()
        if len(clients) < 2 or not released:
            return {"attribution_accuracy": None}
        aux = [ctx.embedder.encode([e.text() for e in h.nonmembers]) for h in clients]
        right = total = 0
        for cid, release in released.items():
            items = ctx.embedder.encode(list(release.artefact.texts))
            scores = np.stack([(items @ a.T).max(axis=1) for a in aux], axis=1)
            guess = [clients[int(i)].hospital_id for i in scores.argmax(axis=1)]
            right += sum(g == cid for g in guess)
            total += len(guess)
        return {
            "attribution_accuracy": {
                "value": round(right / total, 4),
                "ci95": wilson(right, total),
                "chance": round(1 / len(clients), 4),
                "n_items": total,
            }
        }


@dataclass(frozen=True)
class ToolUtility:
    """Utility, not an attack: retrieval's top-1 item's tool on held-out requests."""

    name: str = "tool_accuracy"
    game: str = "utility"
    threat_model: str = "none"
    needs_llm: bool = False

    def run(self, ctx: ModeContext) -> dict[str, Any]:
        released = list(ctx.released().values())
        requests = ctx.federation.eval_requests
        if not released or not requests:
            return {"tool_accuracy": {"value": 0.0, "ci95": [0.0, 0.0], "n_requests": 0}}
        texts = [t for r in released for t in r.artefact.texts]
        tools = [t for r in released for t in r.tools]
        items = ctx.embedder.encode(texts)
        queries = ctx.embedder.encode([r.request for r in requests])
        best = (queries @ items.T).argmax(axis=1)
        right = sum(tools[int(i)] == r.gold.tool for i, r in zip(best, requests, strict=True))
        return {
            "tool_accuracy": {
                "value": round(right / len(requests), 4),
                "ci95": wilson(right, len(requests)),
                "n_requests": len(requests),
                "method": "MiniLM retrieval, tool of the top-1 released item",
            }
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


def describe(plugins: Sequence[AttackPlugin]) -> list[dict[str, Any]]:
    """Name, game and threat model of each plugin, for the report."""
    return [
        {"name": p.name, "game": p.game, "threat_model": p.threat_model, "needs_llm": p.needs_llm}
        for p in plugins
    ]
