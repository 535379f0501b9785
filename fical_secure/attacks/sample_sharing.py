"""The sample-sharing baseline of in-context federated learning (FedPIT-style).

Instead of a compendium, a client shares raw example episodes that other
agents put into their context as demonstrations. The membership game is the
same one the compendium is audited on: the members are the shared episodes,
the non-members the client's held-out episodes of the same distribution.
"""

from __future__ import annotations

from collections.abc import Iterable

from fical_secure.audit.artefact import SharedArtefact, from_samples
from fical_secure.audit.auditor import AuditTarget
from fical_secure.data.schema import HospitalData, PIIValue


def sample_sharing(
    hospital: HospitalData,
    manifest: Iterable[PIIValue] = (),
    *,
    n_demos: int | None = None,
) -> tuple[SharedArtefact, AuditTarget]:
    """The artefact a sample-sharing client releases, and the game it is audited in.

    ``n_demos`` shares only the first ``n_demos`` member episodes (all when
    ``None``); the unshared members are left out of the game rather than
    counted as non-members, because they come from the training side.

    Raises:
        ValueError: ``n_demos`` < 1.
    """
    if n_demos is not None and n_demos < 1:
        raise ValueError("n_demos must be at least 1")
    shared = tuple(hospital.members[:n_demos] if n_demos is not None else hospital.members)
    target = AuditTarget.from_hospital(hospital, manifest)
    game = AuditTarget(
        client_id=target.client_id,
        members=shared,
        nonmembers=target.nonmembers,
        member_secrets=tuple(
            p for p in target.member_secrets if p.episode_id in {e.episode_id for e in shared}
        ),
        nonmember_secrets=target.nonmember_secrets,
    )
    return from_samples(hospital.hospital_id, shared), game
