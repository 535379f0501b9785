"""One compliance audit end to end: load inputs, run every check, write the reports.

Order matters for failing fast and cheap: everything that can be a usage
error (profile, client configuration, data, candidate) is loaded and
validated before any model is built; then configuration checks, scrubber
checks, leakage checks and threat-model coverage run, and every result goes
into the report, pass or fail.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fical_secure.audit.auditor import AuditConfig
from fical_secure.compliance import inputs
from fical_secure.compliance import scrub_checks as sc
from fical_secure.compliance.checks import CheckResult
from fical_secure.compliance.config_checks import config_checks
from fical_secure.compliance.leakage import run_leakage
from fical_secure.compliance.report import build_report, roc_png, write_reports
from fical_secure.compliance.settings import AuditSettings
from fical_secure.compliance.threat_models import PACKAGED, check_coverage, source_checkout
from fical_secure.config.client import ClientConfig, load_client_config
from fical_secure.config.profile import Profile, load_profile
from fical_secure.jsontypes import JsonObject
from fical_secure.llm.loader import load_llm
from fical_secure.release.budget import LEDGER_NAME, BudgetLedger
from fical_secure.release.dp import calibrate
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.tlu.embedding import default_embedder

if TYPE_CHECKING:
    from fical_secure.llm.base import LLM


@dataclass(frozen=True)
class AuditOutcome:
    """The verdict, the checks, and where the reports went."""

    passed: bool
    checks: tuple[CheckResult, ...]
    json_path: Path
    html_path: Path


@lru_cache(maxsize=2)
def _llm(model: str | None) -> LLM:
    """Load (once per process) the LLM the membership auditor scores with."""

    return load_llm(model)


def run_audit(settings: AuditSettings) -> AuditOutcome:
    """Run the audit described by ``settings`` and write ``audit.json`` / ``audit.html``.

    Raises:
        ConfigError: a bad profile, client configuration, option or input file
            (a usage error: nothing ran).
        DataError, SchemaError: unreadable data or candidate (usage errors).
        AuditError, ScrubError, FicalError: a component failed while auditing.
    """
    start = time.perf_counter()
    profile = load_profile(settings.profile)
    config = load_client_config(settings.client_config) if settings.client_config else None
    data = inputs.load_data(settings, config)
    candidate = inputs.load_candidate(settings, config, data)
    checks: list[CheckResult] = []
    if config is not None:
        checks += config_checks(config, profile.crypto)
    checks += _scrub_checks(profile, candidate, data, settings)
    leak = _leakage(profile, candidate, data, config, settings)
    checks += leak.checks
    checks.append(_coverage(profile, settings))
    context = _context(profile, config, candidate, data, settings, time.perf_counter() - start)
    report = build_report(checks, context)
    rocs = {r.client_id: roc_png(r, profile.release.target_fpr) for r in leak.results if r.attacks}
    json_path, html_path = write_reports(settings.out, report, rocs)
    return AuditOutcome(report["verdict"] == "pass", tuple(checks), json_path, html_path)


def _coverage(profile: Profile, settings: AuditSettings) -> CheckResult:
    """Threat-model coverage: the shipped documents (or ``--threat-models DIR``), their
    citations resolved under ``--evidence DIR``, else DIR/.., else the running checkout."""
    folder = settings.threat_models or PACKAGED
    root = settings.evidence or (
        settings.threat_models.parent if settings.threat_models else source_checkout()
    )
    return check_coverage(profile.threat_models, folder, root)


def _scrub_checks(
    profile: Profile,
    candidate: inputs.Candidate,
    data: inputs.AuditData,
    settings: AuditSettings,
) -> list[CheckResult]:
    """Recall of the packaged scrubber on a held-out corpus; the candidate scanned by the
    scrubber the round's scrub stage runs for its clients (their tools' specs allowed,
    their known identifiers masked), so a finding here is one the round enforces too."""

    scrubber = Scrubber.default()
    docs = sc.recall_corpus(settings.recall_docs, data_seed=settings.seed)
    table, refused = sc.measure_recall(scrubber, docs)
    checks = [
        sc.check_required_entities(scrubber, profile.required_entities),
        sc.check_recall(table, refused, len(docs), profile.release.min_scrubber_recall),
        sc.check_candidate_clean(
            data.scrubber_for(candidate.targets),
            candidate.artefact.texts,
            profile.release.max_candidate_pii_detections,
            item_ids=candidate.artefact.item_ids,
        ),
    ]
    return checks


def _leakage(
    profile: Profile,
    candidate: inputs.Candidate,
    data: inputs.AuditData,
    config: ClientConfig | None,
    settings: AuditSettings,
) -> Any:
    model = settings.model
    if model is None and config is not None and config.model != "packaged":
        model = config.model
    audit_config = AuditConfig(
        llm_records_per_split=settings.mi_records,
        canary_candidates=settings.canary_candidates,
        max_canaries=settings.max_canaries,
        seed=settings.seed,
    )
    return run_leakage(
        candidate.artefact,
        candidate.targets,
        data.manifest,
        profile.release,
        embedder=default_embedder(),
        llm=_llm(model),
        config=audit_config,
        planted_canaries=settings.planted_canaries
        if candidate.artefact.kind == "compendium"
        else 0,
        catalogue=data.catalogue,
    )


def privacy_budget(profile: Profile, config: ClientConfig | None) -> JsonObject | None:
    """The profile's DP mode: epsilon per round, and the client's spent and left (its ledger).

    None without ``release.dp``. The ledger is the one beside the client's
    private key; without a client configuration only the per-round cost is known.

    Raises:
        StoreError: the client's ledger is malformed.
    """

    policy = profile.release.dp
    if policy is None:
        return None
    out: JsonObject = {"policy": policy.to_dict(), "per_round": calibrate(policy).to_dict()}
    if config is not None:
        ledger = config.keys.private_key.parent / LEDGER_NAME
        out["ledger"] = str(ledger)
        out.update(BudgetLedger(ledger).status(policy).to_dict())
    return out


def _context(
    profile: Profile,
    config: ClientConfig | None,
    candidate: inputs.Candidate,
    data: inputs.AuditData,
    settings: AuditSettings,
    seconds: float,
) -> JsonObject:
    return {
        "profile": {
            "name": profile.name,
            "source": profile.source,
            "sha256": profile.sha256,
            "description": profile.description,
            "safe_harbor": [asdict(item) for item in profile.safe_harbor],
        },
        "candidate": {
            "kind": candidate.artefact.kind,
            "owner": candidate.artefact.owner,
            "n_items": len(candidate.artefact),
            "source": candidate.source,
            "audited_clients": [h.hospital_id for h in candidate.targets],
        },
        "client_config": None
        if config is None
        else {
            "source": str(config.source),
            "client_id": config.client_id,
            "transport": config.transport,
            "share_mode": config.share_mode,
        },
        "data": {"description": data.description},
        "privacy_budget": privacy_budget(profile, config),
        "settings": {
            "seed": settings.seed,
            "clients": settings.clients,
            "records": settings.records,
            "mi_records": settings.mi_records,
            "recall_docs": settings.recall_docs,
            "canary_candidates": settings.canary_candidates,
            "max_canaries": settings.max_canaries,
            "planted_canaries": settings.planted_canaries,
            "model": settings.model or (config.model if config else "packaged"),
        },
        "seconds": round(seconds, 1),
    }
