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


def test_a_large_game_is_played_on_a_seeded_sample_while_every_secret_is_searched() -> None:
    fed = generate_federation(
        1, seed=6, episodes_per_hospital=30, nonmembers_per_hospital=24, canaries_per_hospital=0
    )
    hospital = fed.hospitals[0]
    target = AuditTarget.from_hospital(hospital, fed.manifest)
    capped = target.capped(10, seed=3)
    assert (len(capped.members), len(capped.nonmembers)) == (10, 10)
    ids = [e.episode_id for e in capped.members]
    assert set(ids) <= {e.episode_id for e in target.members} and ids == sorted(
        ids, key=[e.episode_id for e in target.members].index
    )  # kept in their original order
    assert {e.episode_id for e in capped.nonmembers} <= {e.episode_id for e in target.nonmembers}
    assert capped.member_secrets == target.member_secrets  # the PII search covers every value
    assert capped == target.capped(10, seed=3) and capped != target.capped(10, seed=4)
    assert target.capped(30, seed=3) is target  # nothing above the cap: the whole game
    outside = next(e for e in hospital.members if e.episode_id not in ids and e.pii)
    artefact = from_samples("h01", [outside])  # leaks a member the sample left out
    result = audit_artefact(
        artefact,
        target,
        embedder=CachingEmbedder(default_embedder()),
        config=AuditConfig(use_llm=False, n_bootstrap=10, max_records_per_split=10, seed=3),
    )
    for attack in result.attacks.values():
        assert len(attack.member_scores) == len(attack.nonmember_scores) == 10
    assert outside.episode_id in {h.episode_id for h in result.pii_hits}
