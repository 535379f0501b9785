"""Membership-inference audit of released artefacts, layered like ml_privacy_meter.

signals (:mod:`.signals`, :mod:`.exposure`, :mod:`.pii_search`) -> attacks
(:mod:`.attacks`) -> metrics (:mod:`.metrics`) -> policy and gate
(:mod:`.policy`, :mod:`.gate`) -> report data (``to_dict`` of
:class:`AuditResult` and :class:`GateDecision`). Every attack plays the
record-membership game of one client. Heavy models are passed in, never
imported here.
"""

from fical_secure.audit.artefact import (
    SharedArtefact,
    from_catalogue,
    from_compendium,
    from_samples,
)
from fical_secure.audit.auditor import AuditConfig, AuditResult, AuditTarget, audit_artefact
from fical_secure.audit.gate import GateDecision, run_gate
from fical_secure.audit.policy import AuditPolicy, Finding, check_policy, validate
from fical_secure.audit.signals import CachingEmbedder, Embedder

__all__ = [
    "AuditConfig",
    "AuditPolicy",
    "AuditResult",
    "AuditTarget",
    "CachingEmbedder",
    "Embedder",
    "Finding",
    "GateDecision",
    "SharedArtefact",
    "audit_artefact",
    "check_policy",
    "from_catalogue",
    "from_compendium",
    "from_samples",
    "run_gate",
    "validate",
]
