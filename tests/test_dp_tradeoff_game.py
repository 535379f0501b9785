"""The membership game and the claim-kind ablation of ``benchmarks/dp_tradeoff.py``.

On a BFCL split the only non-members are held-out requests. A hospital's
release describes the tools of its own examples, so a held-out request
scored against a hospital that holds none of its tool would look like a
non-member for that reason alone: each one must play against a hospital that
holds its tool, as the members of that tool do.
"""

from __future__ import annotations

import pytest

pytest.importorskip("opendp")

from benchmarks.dp_tradeoff import CLAIM_KINDS, _without, game_records
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Federation
from fical_secure.kcg.claims import parse_any
from fical_secure.kcg.knowledge import KnowledgeConfig, build_knowledge


@pytest.fixture(scope="module")
def fed() -> Federation:
    return generate_federation(3, seed=0, episodes_per_hospital=30, nonmembers_per_hospital=30)


def test_synthetic_game_plays_each_hospitals_members_against_its_non_members(
    fed: Federation,
) -> None:
    records = game_records(fed, bfcl=False)
    for h in fed.hospitals:
        mine, others = records[h.hospital_id]
        assert mine == [e.text() for e in h.members]
        assert others == [e.text() for e in h.nonmembers]


def test_bfcl_game_scores_each_held_out_request_against_a_holder_of_its_tool(
    fed: Federation,
) -> None:
    records = game_records(fed, bfcl=True)
    holds = {h.hospital_id: {e.call.tool for e in h.members} for h in fed.hospitals}
    tool_of = {r.request: r.gold.tool for r in fed.eval_requests}
    placed = 0
    for hospital_id, (mine, others) in records.items():
        hospital = next(h for h in fed.hospitals if h.hospital_id == hospital_id)
        assert mine == [e.request for e in hospital.members]  # requests against requests
        for text in others:
            assert tool_of[text] in holds[hospital_id]
        placed += len(others)
    held = set().union(*holds.values())
    assert placed == sum(r.gold.tool in held for r in fed.eval_requests) > 0
    assert game_records(fed, bfcl=True) == records  # seeded


def test_dropping_a_claim_kind_removes_exactly_its_entries(fed: Federation) -> None:
    config = KnowledgeConfig(min_support=2, paraphrase=False)
    local = {
        h.hospital_id: build_knowledge(
            h.members, fed.catalogue, None, client_id=h.hospital_id, config=config, progress=False
        )
        for h in fed.hospitals
    }
    for kind in CLAIM_KINDS.values():
        less = _without(local, kind)
        for owner, compendium in local.items():
            kept = [
                e for e in compendium.entries if not isinstance(parse_any(e.tool, e.text), kind)
            ]
            assert list(less[owner].entries) == kept
    every = [e for c in local.values() for e in c.entries]
    for kind in CLAIM_KINDS.values():
        assert any(isinstance(parse_any(e.tool, e.text), kind) for e in every), kind
