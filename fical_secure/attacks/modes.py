"""Sharing modes of one federation: what each client would release under each way of federating.

Every mode is built from the same synthetic federation, by the client
pipeline's own stages where one exists, so the attacks compare like with like:

* ``sample_sharing``: the raw member episodes, shared as demonstrations;
* ``sample_sharing_scrubbed``: the same after the PII scrubber (a record it
  cannot clean is withheld: fail closed);
* ``compendium_plain``: what KCG wrote (FICAL without privacy gates);
* ``compendium_hardened``: KCG, then the scrubber and the release gate of the
  named profile (a blocked client releases nothing).

Each released item keeps the tool it is about, for the utility figure
(retrieval's top-1 tool on held-out requests).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fical_secure.audit.artefact import SharedArtefact, from_samples
from fical_secure.data.schema import Episode, Federation, HospitalData
from fical_secure.errors import GateBlockedError, ScrubError

if TYPE_CHECKING:
    from fical_secure.kcg.schema import Compendium
    from fical_secure.llm.base import LLM
    from fical_secure.pipeline.client import ClientSettings

log = logging.getLogger(__name__)

MODES: dict[str, str] = {
    "sample_sharing": "raw member episodes shared as in-context demonstrations (FedPIT-style)",
    "sample_sharing_scrubbed": "member episodes after the PII scrubber, fail closed per record",
    "compendium_plain": "the KCG compendium as written (FICAL, no privacy gates)",
    "compendium_hardened": "KCG, then scrubber and release gate (the shipped client)",
}


@dataclass(frozen=True)
class Release:
    """One client's release under one mode: the items and the tool each is about."""

    artefact: SharedArtefact
    tools: tuple[str, ...]
    blocked: bool = False

    @property
    def n_bytes(self) -> int:
        return sum(len(t.encode("utf-8")) for t in self.artefact.texts)


def _samples(owner: str, episodes: list[Episode]) -> Release:
    return Release(from_samples(owner, episodes), tuple(e.call.tool for e in episodes))


def _scrubbed_samples(owner: str, episodes: list[Episode]) -> Release:
    """Each episode's text scrubbed on its own: one that cannot be cleaned is withheld."""
    from fical_secure.scrub.scrubber import Scrubber

    scrubber = Scrubber.default()
    ids, texts, tools = [], [], []
    for episode in episodes:
        try:
            clean = scrubber.scrub(episode.text()).scrubbed
        except ScrubError as exc:
            log.warning("episode %s withheld by the scrubber: %s", episode.episode_id, exc)
            continue
        ids.append(episode.episode_id)
        texts.append(clean)
        tools.append(episode.call.tool)
    return Release(SharedArtefact("samples", owner, tuple(ids), tuple(texts)), tuple(tools))


def _compendium(comp: Compendium) -> Release:
    ids: dict[str, tuple[str, str]] = {}
    for entry in comp.entries:
        ids.setdefault(entry.entry_id, (entry.render(), entry.tool))
    artefact = SharedArtefact(
        "compendium", comp.owner, tuple(ids), tuple(t for t, _ in ids.values())
    )
    return Release(artefact, tuple(tool for _, tool in ids.values()))


def _client_releases(
    hospital: HospitalData, federation: Federation, llm: LLM, settings: ClientSettings
) -> tuple[Compendium, Compendium | None]:
    """The client pipeline's KCG output, and its release after scrub and gate (None: blocked)."""
    from fical_secure.pipeline.client import ClientRoundState, KCGStage
    from fical_secure.pipeline.gates import AuditStage, ScrubStage

    client = ClientRoundState(
        hospital,
        settings,
        llm=llm,
        manifest=tuple(federation.manifest),
        catalogue=tuple(federation.catalogue),
    )
    KCGStage().run(client)
    assert client.local is not None
    try:
        ScrubStage().run(client)
        AuditStage().run(client)
    except GateBlockedError as exc:  # fail closed: this client releases nothing
        log.warning("client %s blocked in the hardened mode: %s", hospital.hospital_id, exc)
        return client.local, None
    return client.local, client.released


def build_modes(
    federation: Federation,
    llm: LLM,
    *,
    profile: str = "strict",
    audit_llm_records: int = 8,
    progress: bool = True,
) -> dict[str, dict[str, Release]]:
    """mode -> client -> release, for every mode of :data:`MODES`.

    The compendium modes run the client pipeline's own KCG, scrub and audit
    stages on each hospital of ``federation``.

    Raises:
        FicalError: a stage failed in a way that is not one client's fail-closed block.
    """
    from fical_secure.pipeline.client import ClientSettings

    settings = ClientSettings(
        profile=profile, audit_llm_records=audit_llm_records, progress=progress
    )
    modes: dict[str, dict[str, Release]] = {m: {} for m in MODES}
    for hospital in federation.hospitals:
        cid, members = hospital.hospital_id, list(hospital.members)
        plain, hardened = _client_releases(hospital, federation, llm, settings)
        modes["sample_sharing"][cid] = _samples(cid, members)
        modes["sample_sharing_scrubbed"][cid] = _scrubbed_samples(cid, members)
        modes["compendium_plain"][cid] = _compendium(plain)
        modes["compendium_hardened"][cid] = (
            _compendium(hardened)
            if hardened is not None
            else Release(SharedArtefact("compendium", cid, (), ()), (), blocked=True)
        )
    return modes
