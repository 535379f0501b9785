"""The client pipeline of one round: own data -> KCG -> scrub -> gate -> seal.

One hospital, one :class:`ClientRoundState`. The privacy stages live in
``gates.py``; a stage that cannot show the release clean raises
:class:`GateBlockedError` and nothing later runs, so nothing is sealed (fail
closed). Both drivers run these stages: the in-process demo, once per
simulated hospital, and the Flower ClientApp, for the hospital it serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fical_secure.config.ids import ClientId
from fical_secure.config.profile import load_profile, resolve_profile
from fical_secure.data.schema import HospitalData
from fical_secure.errors import GateBlockedError, PipelineError, PrivacyBudgetExhausted
from fical_secure.jsontypes import JsonObject
from fical_secure.kcg.claims import keep_validated
from fical_secure.kcg.knowledge import KnowledgeConfig, build_knowledge
from fical_secure.kcg.schema import Compendium
from fical_secure.kcg.subjects import subjects_of
from fical_secure.pipeline.client_state import ClientRoundState, ClientSettings
from fical_secure.pipeline.gates import AuditStage, ReleaseCheckStage, ScrubStage
from fical_secure.pipeline.runner import Stage
from fical_secure.release.budget import BudgetLedger
from fical_secure.release.dp import calibrate
from fical_secure.tlu.embedding import default_embedder

if TYPE_CHECKING:
    from fical_secure.crypto.keys import Roster
    from fical_secure.protocol import Client, RoundConfig
    from fical_secure.release.budget import BudgetLedger, BudgetStatus
    from fical_secure.release.dp import Calibration
    from fical_secure.release.policy import DPPolicy


@dataclass(frozen=True)
class KCGStage:
    """The client writes its compendium of validated claims from its member episodes."""

    name: str = "kcg"

    def run(self, state: ClientRoundState) -> None:
        s = state.settings
        policy = load_profile(resolve_profile(s.profile)).release.dp
        ledger = budget = None
        calibration = None
        if policy is not None:
            ledger, calibration, budget = _dp_budget(state, policy)
        config = KnowledgeConfig(
            min_support=s.kcg_min_support,
            paraphrase=s.kcg_paraphrase,
            dp=calibration,
            seed=s.seed,
        )
        comp = build_knowledge(
            state.hospital.members,
            state.catalogue,
            state.need_llm() if s.kcg_paraphrase else None,
            client_id=state.client_id,
            config=config,
            progress=s.progress,
            # DP mode: each subject's own identifiers are added per subject (kcg.dp_select);
            # a list built from every patient would let one patient change others' votes
            known=state.known_identifiers() if policy is None else state.roster_identifiers(),
            # DP mode: the public encoder that orders each subject's votes (kcg.vote_order)
            encoder=default_embedder() if policy is not None else None,
        )
        if ledger is not None and calibration is not None and budget is not None:
            ledger.charge(calibration)  # durably, before anything can leave
            state.report["dp"] = _dp_report(calibration, budget, comp)
        state.local = comp
        state.report[self.name] = {
            "selection": comp.meta["selection"],
            "min_support": s.kcg_min_support,
            "k_counts": subjects_of(state.hospital.members).counted,
            "episodes_without_subject": subjects_of(state.hospital.members).unknown,
        }
        if calibration is not None and not comp.entries:
            state.blocked, state.released = "dp: no claim passed the noisy threshold", None
            raise GateBlockedError(
                f"client {state.client_id}: no claim passed the DP threshold "
                f"({calibration.threshold} subjects before noise); nothing was released"
            )
        state.report["compendium_bytes"] = len(comp.to_bytes())
        state.report["compendium_entries"] = len(comp.entries)
        state.released = comp  # without privacy gates, what KCG wrote is what is released


def _dp_report(calibration: Calibration, budget: BudgetStatus, comp: Compendium) -> JsonObject:
    """Epsilon this round, spent and left, and the round's mechanism, for the reports."""
    return {
        "blocked": False,
        "selection": "dp-partition-selection",
        **budget.to_dict(),
        "max_claims_per_subject": calibration.max_claims_per_subject,
        "noise_scale": calibration.scale,
        "threshold": calibration.threshold,
        "claims_selected": comp.meta["claims"],
    }


def _dp_budget(
    state: ClientRoundState, policy: DPPolicy
) -> tuple[BudgetLedger, Calibration, BudgetStatus]:
    """This round's DP mechanism and the budget status with it spent, if it fits.

    Raises:
        PrivacyBudgetExhausted: it does not fit; the client is marked blocked.
    """

    ledger = BudgetLedger(state.settings.dp_ledger)
    calibration = calibrate(policy)
    try:
        budget = ledger.check(policy, calibration)
    except PrivacyBudgetExhausted as exc:
        spent = ledger.status(policy)
        state.blocked, state.released = f"dp: {exc}", None
        state.report["dp"] = {"blocked": True, "reason": str(exc), **spent.to_dict()}
        raise
    return ledger, calibration, budget


@dataclass(frozen=True)
class RecheckStage:
    """After the privacy gates: keep only entries that still state a claim KCG validated.

    A scrubbed phrase ("<PERSON>" for a brand name) leaves an entry that no
    example supports; it is dropped rather than sent.
    """

    name: str = "recheck"

    def run(self, state: ClientRoundState) -> None:
        released = state.need_release()
        if state.local is None:
            raise PipelineError("the KCG stage has not run")
        kept = keep_validated(released.entries, state.local.entries)
        state.report["recheck_dropped"] = len(released.entries) - len(kept)
        state.released = released.with_entries(kept)


def client_stages(settings: ClientSettings, *, ground_truth: bool) -> list[Stage[ClientRoundState]]:
    """The release stages in order: KCG, then the privacy gates the settings turn on.

    ``ground_truth``: the data is synthetic with a manifest of planted values,
    so the release check can measure what would survive.
    """

    stages: list[Stage[ClientRoundState]] = [KCGStage()]
    if settings.scrub:
        stages.append(ScrubStage())
    if settings.audit:
        stages.append(AuditStage())
    stages.append(RecheckStage())
    if ground_truth:
        stages.append(ReleaseCheckStage())
    return stages


def seal_release(
    client: Client, config: RoundConfig, state: ClientRoundState, roster: Roster | None = None
) -> bytes:
    """Seal this client's release to the round: the last client stage, after every gate.

    Raises:
        PipelineError: the release was blocked or never produced.
        everything :meth:`Client.seal_submission` raises (bad round, not enrolled, ...).
    """
    return client.seal_submission(config, state.need_release().to_bytes(), roster)


def episodes_by_split(
    hospital_id: ClientId, episodes: Sequence[Any], name: str = ""
) -> HospitalData:
    """A hospital's own episodes as :class:`HospitalData` (members train, non-members audit)."""
    members = [e for e in episodes if e.split == "member"]
    nonmembers = [e for e in episodes if e.split == "nonmember"]
    tools = tuple(sorted({e.call.tool for e in members}))
    return HospitalData(hospital_id, name or hospital_id, tools, members, nonmembers)
