"""Run every signal and attack on one client's released artefact: the audit of one game.

``audit_artefact`` computes signals (a)-(e) for the client's members and
non-members against the artefact, turns them into attack scores and metrics,
measures canary exposure and PII hits, and attributes similarity and PII to
single items so that the gate can remove the ones that leak.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from fical_secure.audit import attacks as atk
from fical_secure.audit.artefact import SharedArtefact, from_catalogue
from fical_secure.audit.attribution import ItemAttribution, attribute
from fical_secure.audit.exposure import CanaryExposure, canary_context, canary_exposure
from fical_secure.audit.pii_search import PIIHit, search_pii
from fical_secure.audit.signals import (
    CONTEXT_HEADER,
    Embedder,
    FloatArray,
    Similarity,
    build_contexts,
    embedding_similarity,
    likelihoods,
    longest_common_runs,
)
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.schema import Episode, HospitalData, PIIValue
from fical_secure.errors import AuditError, ConfigError
from fical_secure.jsontypes import JsonObject
from fical_secure.llm.base import LLM


@dataclass(frozen=True)
class AuditConfig:
    """Knobs of one audit; the defaults keep one client under a minute on 2 CPU cores."""

    use_llm: bool = True
    llm_records_per_split: int = 16  # LLM signals on a seeded subsample of each side
    context_items: int = 1  # retrieved items put in context per record
    max_context_chars: int = 400
    max_record_chars: int = 256
    min_k_fraction: float = 0.2
    canary_candidates: int = 15  # rank caps exposure at 4 bits; the normal fit goes beyond
    max_canaries: int = 2
    # control secrets per canary, never written anywhere, scored under the same context:
    # the null its exposure is compared with (exposure.canary_exposure)
    canary_controls: int = 1
    fuzzy_threshold: float = 0.9
    n_bootstrap: int = 500
    seed: int = 0
    # records a side the membership game plays (a seeded sample): the embedding
    # signal's cost is linear in records; the PII search still covers every value
    max_records_per_split: int = 1000

    def __post_init__(self) -> None:
        knobs = (
            self.llm_records_per_split,
            self.context_items,
            self.canary_candidates,
            self.max_records_per_split,
        )
        if min(knobs) < 1:
            raise ConfigError(
                "llm_records_per_split, context_items, canary_candidates and"
                " max_records_per_split must be >= 1"
            )
        if not 0.0 < self.min_k_fraction <= 1.0 or not 0.0 < self.fuzzy_threshold <= 1.0:
            raise ConfigError("min_k_fraction and fuzzy_threshold must lie in (0, 1]")
        if self.n_bootstrap < 1 or self.max_canaries < 0 or self.canary_controls < 0:
            raise ConfigError("n_bootstrap must be >= 1, max_canaries and canary_controls >= 0")


@dataclass(frozen=True)
class AuditTarget:
    """One instance of the game: a client's members, non-members and their planted values."""

    client_id: str
    members: tuple[Episode, ...]
    nonmembers: tuple[Episode, ...]
    member_secrets: tuple[PIIValue, ...]
    nonmember_secrets: tuple[PIIValue, ...] = ()

    @classmethod
    def from_hospital(
        cls, hospital: HospitalData, manifest: Iterable[PIIValue] = ()
    ) -> AuditTarget:
        """The game for one hospital; secrets from its episodes and the federation manifest."""
        members, nonmembers = tuple(hospital.members), tuple(hospital.nonmembers)
        return cls(
            client_id=hospital.hospital_id,
            members=members,
            nonmembers=nonmembers,
            member_secrets=_secrets_of(members, manifest),
            nonmember_secrets=_secrets_of(nonmembers, manifest),
        )

    @property
    def game_member_rows(self) -> tuple[int, ...]:
        """Member rows that play the membership game: all but canary hosts.

        Canaries are planted in members only (the generator's Secret-Sharer
        records), so a member carrying one differs from every non-member in
        more than membership; the game compares sides drawn from one
        distribution, and canaries are measured by their exposure instead. If
        every member hosts a canary, all of them play.
        """
        hosts = {p.episode_id for p in self.member_secrets if p.kind == "CANARY"}
        rows = tuple(i for i, e in enumerate(self.members) if e.episode_id not in hosts)
        return rows or tuple(range(len(self.members)))

    def capped(self, limit: int, seed: int) -> AuditTarget:
        """The game on at most ``limit`` records a side, drawn with ``seed``; secrets all kept.

        The PII search looks for every member's and non-member's values
        whatever the sample; only the record rows that the membership signals
        score are sampled, each side on its own, in their original order.
        """
        if len(self.members) <= limit and len(self.nonmembers) <= limit:
            return self
        rng = np.random.default_rng(seed)
        members = tuple(self.members[i] for i in _subsample(len(self.members), limit, rng))
        nonmembers = tuple(self.nonmembers[i] for i in _subsample(len(self.nonmembers), limit, rng))
        return replace(self, members=members, nonmembers=nonmembers)


def _secrets_of(episodes: Sequence[Episode], manifest: Iterable[PIIValue]) -> tuple[PIIValue, ...]:
    ids = {e.episode_id for e in episodes}
    found = [p for e in episodes for p in e.pii] + [p for p in manifest if p.episode_id in ids]
    return tuple(sorted(set(found), key=lambda p: (p.episode_id, p.kind, p.value)))


@dataclass(frozen=True)
class AuditResult:
    """Everything one audit measured, in report-ready form."""

    client_id: str
    artefact_kind: str
    item_ids: tuple[str, ...]
    attacks: dict[str, atk.AttackResult]
    canaries: tuple[CanaryExposure, ...]
    pii_hits: tuple[PIIHit, ...]
    control_pii_hits: int  # non-members' values found: the search's false-positive rate
    attribution: tuple[ItemAttribution, ...]
    seconds: float
    config: AuditConfig = field(default_factory=AuditConfig)

    def to_dict(self) -> JsonObject:
        return {
            "game": atk.RECORD_MEMBERSHIP.name,
            "game_description": atk.RECORD_MEMBERSHIP.description,
            "client_id": self.client_id,
            "artefact_kind": self.artefact_kind,
            "n_items": len(self.item_ids),
            "attacks": {name: r.to_dict() for name, r in self.attacks.items()},
            "canaries": [c.to_dict() for c in self.canaries],
            "pii_hits": [h.to_dict() for h in self.pii_hits],
            "control_pii_hits": self.control_pii_hits,
            "attribution": [a.to_dict() for a in self.attribution],
            "seconds": round(self.seconds, 2),
            "config": asdict(self.config),
        }


def audit_artefact(
    artefact: SharedArtefact,
    target: AuditTarget,
    *,
    embedder: Embedder,
    llm: LLM | None = None,
    reference: SharedArtefact | None = None,
    config: AuditConfig | None = None,
) -> AuditResult:
    """Audit ``artefact`` in the record-membership game of ``target``.

    LLM signals and canary exposure run only when ``llm`` is given and
    ``config.use_llm``; ``reference`` defaults to the public tool catalogue.
    Pass a :class:`CachingEmbedder` when auditing several artefacts of one target.

    Raises:
        AuditError: an empty artefact, an empty side, or a failing model.
    """
    cfg = config or AuditConfig()
    start = time.perf_counter()
    if not target.members or not target.nonmembers:
        raise AuditError("the audit needs at least one member and one non-member record")
    target = target.capped(cfg.max_records_per_split, cfg.seed)
    records = [e.text() for e in (*target.members, *target.nonmembers)]
    run = _Run(target, artefact, cfg, embedding_similarity(records, artefact, embedder))
    run.put(atk.SIG_MAX_COSINE, run.sim.max_cosine(), run.n_mem)
    runs = longest_common_runs(records, artefact)
    run.put(atk.SIG_MAX_RUN, runs.max(axis=1).astype(np.float64), run.n_mem)
    hits = search_pii(
        target.member_secrets,
        artefact.item_ids,
        artefact.texts,
        fuzzy_threshold=cfg.fuzzy_threshold,
    )
    control = search_pii(
        target.nonmember_secrets,
        artefact.item_ids,
        artefact.texts,
        fuzzy_threshold=cfg.fuzzy_threshold,
    )
    canaries: tuple[CanaryExposure, ...] = ()
    if llm is not None and cfg.use_llm:
        ref = reference if reference is not None else _default_reference()
        _llm_signals(run, records, ref, llm, embedder)
        canaries = _canaries(run, llm)
    results = atk.run_attacks(
        run.members, run.nonmembers, n_resamples=cfg.n_bootstrap, seed=cfg.seed
    )
    return AuditResult(
        client_id=target.client_id,
        artefact_kind=artefact.kind,
        item_ids=artefact.item_ids,
        attacks=results,
        canaries=canaries,
        pii_hits=tuple(hits),
        control_pii_hits=len(control),
        attribution=attribute(artefact, run.sim, runs, run.n_mem, hits),
        seconds=time.perf_counter() - start,
        config=cfg,
    )


@dataclass
class _Run:
    """State of one audit: the game, the artefact, similarities, and signals per side."""

    target: AuditTarget
    artefact: SharedArtefact
    cfg: AuditConfig
    sim: Similarity
    members: dict[str, FloatArray] = field(default_factory=dict)
    nonmembers: dict[str, FloatArray] = field(default_factory=dict)

    @property
    def n_mem(self) -> int:
        return len(self.target.members)

    def put(
        self, name: str, values: FloatArray, n_members: int, *, every_member: bool = False
    ) -> None:
        """Store a signal whose first ``n_members`` values belong to members.

        Members outside the game (canary hosts, :attr:`AuditTarget.game_member_rows`)
        are left out unless ``every_member`` (values already of game members only).
        """
        mine = values[:n_members]
        if not every_member:
            mine = mine[list(self.target.game_member_rows)]
        self.members[name], self.nonmembers[name] = mine, values[n_members:]


def _default_reference() -> SharedArtefact:
    return from_catalogue(CATALOGUE)


def _subsample(n: int, k: int, rng: np.random.Generator) -> list[int]:
    return sorted(rng.choice(n, size=min(n, k), replace=False).tolist())


def _llm_signals(
    run: _Run, records: list[str], reference: SharedArtefact, llm: LLM, embedder: Embedder
) -> None:
    """LLM signals (b), (c) of a seeded subsample of each side, stored in ``run``."""
    cfg = run.cfg
    rng = np.random.default_rng(cfg.seed)
    rows = run.target.game_member_rows
    mem_idx = [rows[i] for i in _subsample(len(rows), cfg.llm_records_per_split, rng)]
    non_idx = [
        run.n_mem + i for i in _subsample(len(records) - run.n_mem, cfg.llm_records_per_split, rng)
    ]
    idx = mem_idx + non_idx
    chosen = [records[i] for i in idx]
    ref_sim = embedding_similarity(chosen, reference, embedder)
    lik = likelihoods(
        chosen,
        build_contexts(
            run.artefact, Similarity(run.sim.sims[idx]), cfg.context_items, cfg.max_context_chars
        ),
        build_contexts(reference, ref_sim, cfg.context_items, cfg.max_context_chars),
        llm,
        max_record_chars=cfg.max_record_chars,
    )
    k = cfg.min_k_fraction
    run.put(atk.SIG_LL_TARGET, lik.mean_loglik(), len(mem_idx), every_member=True)
    run.put(atk.SIG_LL_REFERENCE, lik.mean_loglik(reference=True), len(mem_idx), every_member=True)
    run.put(atk.SIG_MINK_TARGET, lik.min_k(k), len(mem_idx), every_member=True)
    run.put(atk.SIG_MINK_REFERENCE, lik.min_k(k, reference=True), len(mem_idx), every_member=True)


def _canaries(run: _Run, llm: LLM) -> tuple[CanaryExposure, ...]:
    """Exposure of the members' canaries and their controls, each with its host's nearest items."""
    target, cfg = run.target, run.cfg
    row_of = {e.episode_id: i for i, e in enumerate(target.members)}
    planted = [p for p in target.member_secrets if p.kind == "CANARY" and p.episode_id in row_of]
    out = []
    for canary in planted[: cfg.max_canaries]:
        row = row_of[canary.episode_id]
        top = Similarity(run.sim.sims[row : row + 1]).top_items(cfg.context_items)[0]
        context = canary_context(
            CONTEXT_HEADER, [run.artefact.texts[int(i)] for i in top], cfg.max_context_chars
        )
        out.append(
            canary_exposure(
                canary,
                context,
                llm,
                host_text=target.members[row].text(),
                n_candidates=cfg.canary_candidates,
                n_controls=cfg.canary_controls,
                seed=cfg.seed,
            )
        )
    return tuple(out)
