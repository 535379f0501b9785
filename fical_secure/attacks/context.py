"""What every attack plugin of one sharing mode shares: its artefacts, data, models, audits.

A leaf module: the plugins (:mod:`.plugins`, :mod:`.utility`) and the suite's
runner import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, cast

from fical_secure.attacks.modes import Release, SharingMode
from fical_secure.audit.auditor import AuditConfig, AuditResult, AuditTarget, audit_artefact
from fical_secure.audit.signals import Embedder
from fical_secure.data.schema import Federation
from fical_secure.llm.base import LLM
from fical_secure.release.policy import ReleasePolicy

T = TypeVar("T")


@dataclass
class ModeContext:
    """One mode's artefacts and what every plugin shares: data, models, policy, audits.

    ``memo`` may be shared by the contexts of one run: a client's records
    played against the very same artefact in two modes (a gate that removed
    nothing) give the same, seeded result, so it is computed once.
    """

    mode: str
    sharing: SharingMode
    federation: Federation
    embedder: Embedder
    llm: LLM | None
    config: AuditConfig
    policy: ReleasePolicy
    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    _audits: dict[str, AuditResult] = field(default_factory=dict)

    def key(self, key: tuple[Any, ...], release: Release) -> tuple[Any, ...]:
        """The memo key of ``key`` computed on ``release``'s artefact (its ids and texts)."""
        return (*key, release.artefact.item_ids, release.artefact.texts)

    def remember(self, key: tuple[Any, ...], release: Release, compute: Callable[[], T]) -> T:
        """``compute()``, or its earlier result for the same key and the same artefact."""
        full = self.key(key, release)
        if full not in self.memo:
            self.memo[full] = compute()
        return cast(T, self.memo[full])

    def targets(self) -> dict[str, Release]:
        """Client -> the non-empty artefact its records are played against (own or pooled)."""
        seen = {c: self.sharing.seen_for(c) for c in self.sharing.clients}
        return {c: r for c, r in seen.items() if r is not None}

    def audits(self) -> dict[str, AuditResult]:
        """One record-membership audit per client with an artefact to audit (computed once)."""
        if not self._audits:
            hospitals = {h.hospital_id: h for h in self.federation.hospitals}
            for cid, release in self.targets().items():
                target = AuditTarget.from_hospital(hospitals[cid], self.federation.manifest)
                # an audit with the LLM's signals is not one without them
                with_llm = self.llm is not None and self.config.use_llm
                self._audits[cid] = self.remember(
                    ("audit", cid, with_llm),
                    release,
                    partial(
                        audit_artefact,
                        release.artefact,
                        target,
                        embedder=self.embedder,
                        llm=self.llm,
                        config=self.config,
                    ),
                )
        return self._audits
