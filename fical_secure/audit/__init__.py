"""Membership-inference audit of released artefacts, layered like ml_privacy_meter.

signals (:mod:`.signals`, :mod:`.exposure`, :mod:`.pii_search`) -> attacks
(:mod:`.attacks`) -> metrics (:mod:`.metrics`) -> report data (``to_dict`` of
:class:`AuditResult`). The release policy and the gate that applies it live
in :mod:`fical_secure.release`. Every attack plays the
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
from fical_secure.audit.signals import CachingEmbedder, Embedder

__all__ = [
    "AuditConfig",
    "AuditResult",
    "AuditTarget",
    "CachingEmbedder",
    "Embedder",
    "SharedArtefact",
    "audit_artefact",
    "from_catalogue",
    "from_compendium",
    "from_samples",
]
