"""The membership game compares sides from one distribution: canary hosts do not play.

The generator plants Secret-Sharer canaries in members only; a member
carrying one differs from every non-member in more than membership (its
extra clause), which biased the gate's null (6.5 % blocks at 16 records a
side, 3.5 % without canaries; benchmarks/gate_calibration.py). Canary hosts
are measured by exposure instead.
"""

from __future__ import annotations

from fical_secure.audit.artefact import from_samples
from fical_secure.audit.auditor import AuditConfig, AuditTarget, audit_artefact
from fical_secure.audit.signals import CachingEmbedder
from fical_secure.data.generator import generate_federation
from fical_secure.tlu.embedding import default_embedder


def test_canary_hosts_leave_the_game_and_every_other_member_plays() -> None:
    fed = generate_federation(
        1, seed=4, episodes_per_hospital=12, nonmembers_per_hospital=12, canaries_per_hospital=3
    )
    hospital = fed.hospitals[0]
    target = AuditTarget.from_hospital(hospital, fed.manifest)
    hosts = {p.episode_id for p in target.member_secrets if p.kind == "CANARY"}
    assert len(hosts) == 3
    rows = target.game_member_rows
    assert [hospital.members[i].episode_id for i in rows] == [
        e.episode_id for e in hospital.members if e.episode_id not in hosts
    ]
    artefact = from_samples("h01", list(hospital.nonmembers[:6]))
    result = audit_artefact(
        artefact,
        target,
        embedder=CachingEmbedder(default_embedder()),
        config=AuditConfig(use_llm=False, n_bootstrap=10),
    )
    for attack in result.attacks.values():
        assert len(attack.member_scores) == len(rows) == 9
        assert len(attack.nonmember_scores) == 12


def test_without_canaries_every_member_plays() -> None:
    fed = generate_federation(
        1, seed=5, episodes_per_hospital=8, nonmembers_per_hospital=8, canaries_per_hospital=0
    )
    target = AuditTarget.from_hospital(fed.hospitals[0], fed.manifest)
    assert target.game_member_rows == tuple(range(8))
