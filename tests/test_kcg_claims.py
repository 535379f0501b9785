"""Claim-based KCG: mined aliases need k distinct supporting episodes and no contradiction."""

from __future__ import annotations

import pytest

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.conventions import JARGON
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Episode, ToolCall
from fical_secure.errors import SchemaError
from fical_secure.kcg.claims import (
    ValueAlias,
    claim_entry,
    keep_validated,
    parse_argument,
    parse_claim,
    parse_cue,
    render_claim,
)
from fical_secure.kcg.knowledge import build_knowledge
from fical_secure.kcg.mining import mine_aliases, supporting_episodes
from fical_secure.tlu.knowledge import Knowledge

CHEM7 = ValueAlias("lab_results_lookup", "test", "chem-7", "BMP")


def _lab(i: int, request: str, test: str) -> Episode:
    call = ToolCall("lab_results_lookup", {"mrn": f"MRN-{i:07d}", "test": test})
    return Episode(f"e{i}", "h01", request, call, "ok", "ok", "member")


def _episodes(n_chem7: int) -> list[Episode]:
    eps = [_lab(i, f"Pull the chem-7 for MRN-{i:07d}.", "BMP") for i in range(n_chem7)]
    eps += [
        _lab(10 + i, f"Pull the {t} for MRN-{10 + i:07d}.", t)
        for i, t in enumerate(("CBC", "TSH", "BMP", "INR"))
    ]
    return eps


def test_canonical_sentence_and_paraphrases_parse_back_to_the_claim() -> None:
    assert parse_claim(CHEM7.tool, render_claim(CHEM7)) == CHEM7
    assert parse_claim(CHEM7.tool, 'When people say "chem-7" they mean test="BMP".') == CHEM7
    for text in (
        'Use test="BMP".',
        '"chem-7" and "lytes" mean test="BMP".',
        '"chem-7" means test="BMP" or test="CBC".',
        '"BMP" means test="BMP".',
    ):
        assert parse_claim(CHEM7.tool, text) is None, text
    with pytest.raises(SchemaError):
        claim_entry(CHEM7, 'Staff write "chem-8" for test="BMP".')


@pytest.mark.parametrize(
    ("n", "k", "found"), [(2, 2, True), (1, 2, False), (3, 3, True), (2, 3, False)]
)
def test_an_alias_needs_k_distinct_supporting_episodes(n: int, k: int, found: bool) -> None:
    mined = mine_aliases(_episodes(n), CATALOGUE, min_support=k)
    assert ([m.claim.phrase for m in mined] == ["chem-7"]) is found
    if found:
        assert len(mined[0].support) == n


def test_one_contradicting_episode_refutes_a_claim() -> None:
    episodes = _episodes(3)
    assert supporting_episodes(CHEM7, episodes, CATALOGUE) == ("e0", "e1", "e2")
    episodes.append(_lab(99, "Pull the chem-7 for MRN-0000099.", "CBC"))
    assert supporting_episodes(CHEM7, episodes, CATALOGUE) is None
    assert mine_aliases(episodes, CATALOGUE, min_support=2) == []


def test_synthetic_hospitals_learn_true_house_phrases_only() -> None:
    fed = generate_federation(5, seed=0)
    house = {p.lower(): v for v, phrases in JARGON.items() for p in phrases}
    total = 0
    for hospital in fed.hospitals:
        comp = build_knowledge(
            hospital.members, fed.catalogue, None, client_id=hospital.hospital_id, progress=False
        )
        for entry in comp.entries:
            if parse_cue(entry.tool, entry.text) is not None:
                continue  # tool-selection cues: tests/test_kcg_cues.py
            if parse_argument(entry.tool, entry.text) is not None:
                continue  # argument claims: tests/test_kcg_arguments.py
            claim = parse_claim(entry.tool, entry.text)
            assert claim is not None
            # every learned phrase is (part of) a real house phrase for that value
            assert any(claim.phrase.lower() in p and house[p] == claim.value for p in house), entry
            total += 1
    assert total >= 15


def test_scrubbed_claims_are_dropped_before_release() -> None:
    entry = claim_entry(CHEM7)
    masked = claim_entry(ValueAlias(CHEM7.tool, "test", "<PERSON>", "BMP"))
    assert keep_validated((entry, masked), (entry,)) == (entry,)


def test_agent_knowledge_drops_phrases_the_entries_disagree_on() -> None:
    from fical_secure.kcg.schema import Compendium

    entries = (
        claim_entry(CHEM7),
        claim_entry(ValueAlias(CHEM7.tool, "test", "chem-7", "CBC")),
        claim_entry(ValueAlias(CHEM7.tool, "test", "lytes", "BMP")),
    )
    knowledge = Knowledge.from_compendium(Compendium(owner="global", entries=entries))
    assert knowledge.aliases == {"lytes": "BMP"}
