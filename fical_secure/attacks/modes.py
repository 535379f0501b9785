"""Sharing modes of one federation: what the attacker holds under each way of federating.

Every mode is built from the same synthetic federation, by the project's own
code where it exists (client pipeline stages, the local model, the
secure-aggregation transport), so the attacks compare like with like:

* ``sample_sharing``: the raw member episodes, shared as demonstrations;
* ``sample_sharing_scrubbed``: the same after the PII scrubber (a record it
  cannot clean is withheld: fail closed);
* ``synthetic_sharing``: examples the client's local model writes from a few
  of its member episodes (FedPIT, :mod:`fical_secure.attacks.synthetic`);
* ``compendium_plain``: what KCG wrote (FICAL without privacy gates);
* ``compendium_hardened``: what the round releases: the round's client stages
  (KCG, scrubber, release gate of the named profile, recheck); a blocked
  client releases nothing;
* ``compendium_dp``: the same stages under a second profile whose release
  selects claims by differentially private partition selection (built only
  when a DP profile is named);
* ``compendium_secagg``: the hardened releases through anonymous secure
  aggregation: the server holds one pooled multiset of entries and does not
  know who wrote which (:mod:`fical_secure.attacks.pooled`);
* ``parameter_fl``: no text at all: each client's global LoRA update
  (:mod:`fical_secure.attacks.parameter_fl`, attacked by
  :mod:`fical_secure.attacks.parameter_fl_audit`, not by the text plugins).

In every mode but the last the server receives one signed release per
client, so it knows each item's sender. Each item keeps the tool it is
about, for the utility figure (the TLU solver's tool choice with the docs plus the release).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from fical_secure.attacks.pooled import pooled_round
from fical_secure.attacks.synthetic import SyntheticConfig, synthetic_artefact, synthetic_examples
from fical_secure.audit.artefact import SharedArtefact, from_samples
from fical_secure.config.ids import ClientId
from fical_secure.data.schema import Episode, Federation, HospitalData
from fical_secure.errors import GateBlockedError, PipelineError, ScrubError
from fical_secure.pipeline.client import client_stages
from fical_secure.pipeline.client_state import ClientRoundState, ClientSettings
from fical_secure.pipeline.runner import run_stages
from fical_secure.scrub.scrubber import Scrubber

if TYPE_CHECKING:
    from fical_secure.kcg.schema import Compendium
    from fical_secure.llm.base import LLM

log = logging.getLogger(__name__)

TEXT_MODES: dict[str, str] = {
    "sample_sharing": "raw member episodes shared as in-context demonstrations (FedPIT-style)",
    "sample_sharing_scrubbed": "member episodes after the PII scrubber, fail closed per record",
    "synthetic_sharing": "examples the local LLM writes from a few member episodes (FedPIT)",
    "compendium_plain": "the KCG compendium as written (FICAL, no privacy gates)",
    "compendium_hardened": "what a round releases: KCG, scrubber, release gate, recheck",
    "compendium_dp": "what a round releases under the DP profile: DP claim selection, "
    "scrubber, release gate, recheck",
    "compendium_secagg": "hardened releases through anonymous secure aggregation: one "
    "pooled multiset, no senders",
}
# modes whose artefact is weights, not text: trained and attacked by their own module
PARAMETER_MODES: dict[str, str] = {
    "parameter_fl": "FedPIT parameter isolation: a global LoRA adapter averaged by FedAvg, "
    "a local one kept; trained on the members (fical_secure.attacks.parameter_fl)",
}
MODES: dict[str, str] = {**TEXT_MODES, **PARAMETER_MODES}


@dataclass(frozen=True)
class Release:
    """One artefact the attacker holds: the items, the tool each is about, who wrote each.

    ``writers`` is ground truth for scoring attribution, never shown to an
    attack; empty means the artefact's owner wrote every item.
    """

    artefact: SharedArtefact
    tools: tuple[str, ...]
    blocked: bool = False
    writers: tuple[frozenset[str], ...] = ()

    def __post_init__(self) -> None:
        wrong_writers = bool(self.writers) and len(self.writers) != len(self.artefact)
        if len(self.tools) != len(self.artefact) or wrong_writers:
            raise ValueError("one tool (and, if given, one writer set) per released item")

    @property
    def n_bytes(self) -> int:
        return sum(len(t.encode("utf-8")) for t in self.artefact.texts)

    def writers_of(self, index: int) -> frozenset[str]:
        """The clients that wrote item ``index``."""
        return self.writers[index] if self.writers else frozenset({self.artefact.owner})


@dataclass(frozen=True)
class SharingMode:
    """What the attacker (the server) holds under one mode, and what each client sent.

    Either one release per sender (``releases``: the server knows who sent
    each), or one ``pooled`` artefact without senders (anonymous aggregation).
    """

    clients: tuple[str, ...]
    releases: dict[str, Release] = field(default_factory=dict)
    pooled: Release | None = None
    blocked: tuple[str, ...] = ()
    sent_bytes: dict[str, int] = field(default_factory=dict)  # per client, on the wire
    note: str | None = None  # why the attacker holds nothing, when it does not

    @classmethod
    def per_client(cls, releases: dict[str, Release]) -> SharingMode:
        """A mode where each client's release reaches the server under its sender's name."""
        return cls(
            clients=tuple(releases),
            releases=dict(releases),
            blocked=tuple(sorted(c for c, r in releases.items() if r.blocked)),
            sent_bytes={c: r.n_bytes for c, r in releases.items()},
        )

    def held(self) -> list[Release]:
        """The non-empty artefacts the attacker holds."""
        if self.pooled is not None:
            return [self.pooled] if len(self.pooled.artefact) else []
        return [r for r in self.releases.values() if len(r.artefact)]

    def seen_for(self, client_id: ClientId) -> Release | None:
        """The artefact the attacker plays ``client_id``'s records against (None: nothing)."""
        release = self.pooled if self.pooled is not None else self.releases.get(client_id)
        return release if release is not None and len(release.artefact) else None


def _samples(owner: str, episodes: list[Episode]) -> Release:
    return Release(from_samples(owner, episodes), tuple(e.call.tool for e in episodes))


def _scrubbed_samples(owner: str, episodes: list[Episode]) -> Release:
    """Each episode's text scrubbed on its own: one that cannot be cleaned is withheld."""

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


def client_release(
    hospital: HospitalData,
    federation: Federation,
    llm: LLM | None,
    settings: ClientSettings,
) -> tuple[Compendium, Compendium | None]:
    """What KCG wrote for ``hospital``, and what its round releases (None: a gate blocked it).

    The release is the round's own: the client stages of
    :func:`~fical_secure.pipeline.client.client_stages` (KCG, the gates the
    settings turn on, the recheck), run by the pipeline's runner.

    Raises:
        FicalError: a stage failed in a way that is not this client's fail-closed block.
    """
    client = ClientRoundState(
        hospital,
        settings,
        llm=llm,
        manifest=tuple(federation.manifest),
        catalogue=tuple(federation.catalogue),
    )
    try:
        run_stages(client, client_stages(settings, ground_truth=False), label=hospital.hospital_id)
    except GateBlockedError as exc:  # fail closed: this client releases nothing
        log.warning("client %s blocked in the hardened mode: %s", hospital.hospital_id, exc)
        if client.local is None:  # blocked before KCG wrote anything (the DP budget)
            raise
        return client.local, None
    if client.local is None:
        raise PipelineError(f"client {hospital.hospital_id}: the KCG stage wrote nothing")
    return client.local, client.need_release()


def synthetic_releases(
    hospitals: Sequence[HospitalData], llm: LLM, config: SyntheticConfig | None = None
) -> dict[str, Release]:
    """Each client's FedPIT-style release: what its model wrote, each item with its anchor's tool.

    Raises:
        GenerationError: the model failed.
    """

    written = synthetic_examples(
        {h.hospital_id: h.members for h in hospitals}, llm, config or SyntheticConfig()
    )
    return {
        cid: Release(synthetic_artefact(cid, ex), tuple(e.anchor.call.tool for e in ex))
        for cid, ex in written.items()
    }


def secagg_mode(released: dict[str, Compendium | None]) -> SharingMode:
    """The pooled mode over every client's hardened release (``None``: blocked).

    Raises:
        AggregationError: slot collisions remained after every retry.
    """

    pool = pooled_round(released, len(released))
    senders = [c for c, comp in released.items() if comp is not None]
    return SharingMode(
        clients=tuple(released),
        pooled=Release(pool.artefact, pool.tools, pool.aborted is not None, pool.writers),
        blocked=tuple(sorted(c for c, comp in released.items() if comp is None)),
        sent_bytes={c: pool.upload_bytes_per_client if c in senders else 0 for c in released},
        note=pool.aborted,
    )


def build_modes(
    federation: Federation,
    llm: LLM,
    *,
    profile: str = "strict",
    audit_llm_records: int = 8,
    synthetic: SyntheticConfig | None = None,
    progress: bool = True,
    dp_profile: str | None = None,
) -> dict[str, SharingMode]:
    """mode -> what the attacker holds, for every text mode (:data:`TEXT_MODES`).

    The compendium modes run the round's own client stages on each hospital
    of ``federation``; ``synthetic_sharing`` runs ``llm`` as every client's
    local model. ``compendium_dp`` runs the same stages under ``dp_profile``
    (its budget in memory, one round); without it that mode is not built.

    Raises:
        FicalError: a stage failed in a way that is not one client's fail-closed block.
    """
    settings = ClientSettings(
        profile=profile, audit_llm_records=audit_llm_records, progress=progress
    )
    dp_settings = (
        None
        if dp_profile is None
        else ClientSettings(
            profile=dp_profile, audit_llm_records=audit_llm_records, progress=progress
        )
    )
    per_client: dict[str, dict[str, Release]] = {
        m: {}
        for m in TEXT_MODES
        if m != "compendium_secagg" and (m != "compendium_dp" or dp_settings is not None)
    }
    hardened_by_client: dict[str, Compendium | None] = {}
    # per client: its round (KCG and the gates), the scrubbed samples, the DP round; then
    # every client's model writing synthetic examples
    steps = len(federation.hospitals) * (3 if dp_settings is not None else 2) + 1
    bar = tqdm(total=steps, desc="releases", disable=not progress)
    for hospital in federation.hospitals:
        cid, members = hospital.hospital_id, list(hospital.members)
        bar.set_postfix_str(f"{cid} round")
        plain, hardened = client_release(hospital, federation, llm, settings)
        bar.update()
        hardened_by_client[cid] = hardened
        per_client["sample_sharing"][cid] = _samples(cid, members)
        bar.set_postfix_str(f"{cid} scrubbed samples")
        per_client["sample_sharing_scrubbed"][cid] = _scrubbed_samples(cid, members)
        bar.update()
        per_client["compendium_plain"][cid] = _compendium(plain)
        per_client["compendium_hardened"][cid] = _released(cid, hardened)
        if dp_settings is not None:
            bar.set_postfix_str(f"{cid} DP round")
            _, dp_release = client_release(hospital, federation, llm, dp_settings)
            per_client["compendium_dp"][cid] = _released(cid, dp_release)
            bar.update()
    bar.set_postfix_str("synthetic examples")
    per_client["synthetic_sharing"] = synthetic_releases(federation.hospitals, llm, synthetic)
    bar.update()
    bar.close()
    modes = {m: SharingMode.per_client(per_client[m]) for m in TEXT_MODES if m in per_client}
    modes["compendium_secagg"] = secagg_mode(hardened_by_client)
    return {m: modes[m] for m in TEXT_MODES if m in modes}


def _released(cid: str, release: Compendium | None) -> Release:
    """A client's released compendium, or its empty, blocked release."""
    if release is None:
        return Release(SharedArtefact("compendium", cid, (), ()), (), blocked=True)
    return _compendium(release)
