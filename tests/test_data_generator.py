"""Behaviour of the synthetic federation generator: determinism, non-IID, splits, eval."""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from fical_secure.data.catalogue import CATALOGUE, TOOL_NAMES
from fical_secure.data.conventions import JARGON, TERSE_TEMPLATES
from fical_secure.data.generator import allocate, generate_federation
from fical_secure.data.pii import CANARY_PATTERN
from fical_secure.data.schema import Episode, Federation, ToolCall
from fical_secure.data.storage import save_federation
from fical_secure.data.templates import REQUEST_TEMPLATES
from fical_secure.data.validation import call_problems
from fical_secure.data.vocab import (
    DATE_STYLES,
    date_words,
    enum_words,
    number_words,
)
from fical_secure.errors import ConfigError


@pytest.fixture(scope="module")
def fed() -> Federation:
    return generate_federation()


def _episodes(fed: Federation) -> list[Episode]:
    return [e for h in fed.hospitals for e in h.members + h.nonmembers]


def _tree_digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    save_federation(generate_federation(seed=11), tmp_path / "a")
    save_federation(generate_federation(seed=11), tmp_path / "b")
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b")


@pytest.mark.process
def test_output_does_not_depend_on_the_process_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys; from fical_secure.data.generator import generate_federation;"
        "from fical_secure.data.storage import save_federation;"
        "save_federation(generate_federation(2, seed=3, episodes_per_hospital=10,"
        " nonmembers_per_hospital=5, eval_per_tool=1), sys.argv[1])"
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / hash_seed)],
            check=True,
            env=env,
            timeout=60,
        )
    here = generate_federation(
        2, seed=3, episodes_per_hospital=10, nonmembers_per_hospital=5, eval_per_tool=1
    )
    save_federation(here, tmp_path / "here")
    assert _tree_digest(tmp_path / "1") == _tree_digest(tmp_path / "2")
    assert _tree_digest(tmp_path / "1") == _tree_digest(tmp_path / "here")


def test_different_seeds_give_different_patients(fed: Federation) -> None:
    other = generate_federation(seed=1)
    ours = {p.value for p in fed.manifest if p.kind in ("MRN", "US_SSN", "CANARY")}
    theirs = {p.value for p in other.manifest if p.kind in ("MRN", "US_SSN", "CANARY")}
    assert len(ours & theirs) < 0.02 * len(theirs)  # chance collisions only
    assert [h.tools for h in fed.hospitals] != [h.tools for h in other.hospitals]


def test_default_federation_generates_fast() -> None:
    start = time.process_time()  # CPU time: other processes on the machine do not count
    generate_federation(seed=5)
    assert time.process_time() - start < 5.0


@pytest.mark.parametrize("n_hospitals", [1, 2, 3, 5, 14, 20])
def test_every_catalogue_tool_is_held_by_some_hospital(n_hospitals: int) -> None:
    small = generate_federation(
        n_hospitals,
        seed=n_hospitals,
        episodes_per_hospital=8,
        nonmembers_per_hospital=8,
        eval_per_tool=0,
    )
    assert set().union(*(h.tools for h in small.hospitals)) == set(TOOL_NAMES)
    for hospital in small.hospitals:
        assert {e.call.tool for e in hospital.members} <= set(hospital.tools)


def test_hospitals_hold_different_tool_subsets_of_five_to_eight(fed: Federation) -> None:
    tool_sets = [h.tools for h in fed.hospitals]
    assert len(set(tool_sets)) == len(tool_sets)
    assert all(5 <= len(tools) <= 8 for tools in tool_sets)
    assert all(len(tools) < len(CATALOGUE) for tools in tool_sets)


def _normalized_entropy(counts: list[int]) -> float:
    total = sum(counts)
    entropy = -sum(c / total * math.log(c / total) for c in counts if c)
    return entropy / math.log(len(counts))


def test_tool_mix_is_skewed_and_shared_by_member_and_nonmember_splits() -> None:
    entropies = []
    for seed in range(4):
        for hospital in generate_federation(seed=seed, eval_per_tool=0).hospitals:
            members = Counter(e.call.tool for e in hospital.members)
            nonmembers = Counter(e.call.tool for e in hospital.nonmembers)
            assert members == nonmembers  # same distribution, stratified
            assert set(members) == set(hospital.tools)  # every held tool has examples
            entropies.append(_normalized_entropy([members[t] for t in hospital.tools]))
    assert sum(entropies) / len(entropies) < 0.93  # uniform would be 1.0
    assert max(entropies) < 1.0


def test_allocate_is_proportional_and_exact() -> None:
    assert allocate([0.5, 0.25, 0.25], 40) == [20, 10, 10]
    assert sum(allocate([0.9, 0.05, 0.03, 0.02], 7)) == 7
    assert min(allocate([0.97, 0.01, 0.01, 0.01], 10)) == 1
    assert allocate([0.5, 0.5, 0.0], 2) == [1, 1, 0]


def test_episode_counts_follow_parameters() -> None:
    small = generate_federation(
        3,
        seed=2,
        episodes_per_hospital=12,
        nonmembers_per_hospital=9,
        eval_per_tool=2,
        canaries_per_hospital=3,
    )
    assert [len(h.members) for h in small.hospitals] == [12, 12, 12]
    assert [len(h.nonmembers) for h in small.hospitals] == [9, 9, 9]
    assert sum(r.needs == "docs" for r in small.eval_requests) == 2 * len(CATALOGUE)
    knowledge = [r for r in small.eval_requests if r.needs != "docs"]
    assert 0 < len(knowledge) <= 2 * 6 * len(small.hospitals)


def test_every_call_and_gold_call_is_valid_under_the_catalogue(fed: Federation) -> None:
    calls = [e.call for e in _episodes(fed)] + [r.gold for r in fed.eval_requests]
    assert [c.render() for c in calls if call_problems(c)] == []
    tools_used = {c.tool for c in calls}
    assert tools_used == set(TOOL_NAMES)


def test_member_and_nonmember_patients_are_disjoint(fed: Federation) -> None:
    def identifiers(episodes: list[Episode]) -> set[str]:
        return {p.value for e in episodes for p in e.pii if p.kind in ("PERSON", "MRN", "US_SSN")}

    members = identifiers([e for h in fed.hospitals for e in h.members])
    nonmembers = identifiers([e for h in fed.hospitals for e in h.nonmembers])
    eval_ids = {p.value for p in fed.manifest if p.episode_id.startswith("eval-")}
    assert members and nonmembers
    assert members.isdisjoint(nonmembers)
    assert eval_ids.isdisjoint(members | nonmembers)


def test_canaries_are_planted_in_members_only_in_fixed_format(fed: Federation) -> None:
    for hospital in fed.hospitals:
        member_canaries = [p for e in hospital.members for p in e.pii if p.kind == "CANARY"]
        assert len(member_canaries) == 2
        assert all(CANARY_PATTERN.fullmatch(p.value) for p in member_canaries)
        assert not any(p.kind == "CANARY" for e in hospital.nonmembers for p in e.pii)
    canaries = [p.value for p in fed.manifest if p.kind == "CANARY"]
    assert len(canaries) == len(set(canaries)) == 2 * len(fed.hospitals)


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[A-Za-z_]+\}", template)
    body = "(.*?)".join(re.escape(part) for part in parts)
    return re.compile(f"{body}(?: .*)?", re.DOTALL)


def _matches(text: str, templates: tuple[str, ...]) -> bool:
    return any(_template_regex(t).fullmatch(text) for t in templates)


def test_each_tool_has_at_least_five_training_paraphrases_and_held_out_ones() -> None:
    for name in TOOL_NAMES:
        templates = REQUEST_TEMPLATES[name]
        assert len(set(templates.train)) >= 5
        assert len(templates.held_out) >= 2
        assert set(templates.train).isdisjoint(templates.held_out)


def _templates(tool: str, held_out: bool) -> tuple[str, ...]:
    terse = TERSE_TEMPLATES.get(tool, ((), ()))[1 if held_out else 0]
    standard = REQUEST_TEMPLATES[tool]
    return (*(standard.held_out if held_out else standard.train), *terse)


def test_eval_requests_use_only_held_out_phrasings(fed: Federation) -> None:
    # terse templates ("{test} on {patient}?") are too short to tell apart by regex
    all_train = tuple(t for name in TOOL_NAMES for t in REQUEST_TEMPLATES[name].train)
    for request in fed.eval_requests:
        assert _matches(request.request, _templates(request.gold.tool, True))
        assert not _matches(request.request, all_train), request.request
    for episode in _episodes(fed):
        assert _matches(episode.request, _templates(episode.call.tool, False))


def _said(text: str, words: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(words)}(?![\w-])", text) is not None


def _argument_in_text(text: str, name: str, value: object) -> bool:
    if name == "date":
        day = date.fromisoformat(str(value))
        return any(date_words(day, style) in text for style in range(DATE_STYLES))
    if isinstance(value, str):  # in standard words, or in one of the house phrases
        return any(_said(text, w) for w in (enum_words(name, value), *JARGON.get(value, ())))
    assert isinstance(value, int | float)
    number = re.escape(number_words(value))  # "30-day", "67yo" still say the number
    return re.search(rf"(?<![\d.]){number}(?!\d|\.\d)", text) is not None


def _recoverable(text: str, call: ToolCall) -> list[str]:
    return [n for n, v in call.arguments.items() if not _argument_in_text(text, n, v)]


def test_gold_arguments_are_written_in_the_eval_request(fed: Federation) -> None:
    missing = {r.request_id: _recoverable(r.request, r.gold) for r in fed.eval_requests}
    assert {k: v for k, v in missing.items() if v} == {}


def test_episode_arguments_are_written_in_the_request(fed: Federation) -> None:
    missing = {e.episode_id: _recoverable(e.request, e.call) for e in _episodes(fed)}
    assert {k: v for k, v in missing.items() if v} == {}


def test_requests_are_varied_and_not_every_episode_carries_every_kind(
    fed: Federation,
) -> None:
    episodes = _episodes(fed)
    assert len({e.request for e in episodes}) == len(episodes)
    kinds_per_episode = [{p.kind for p in e.pii} for e in episodes]
    assert all(len(kinds) < 8 for kinds in kinds_per_episode)
    seen = set().union(*kinds_per_episode)
    assert seen == {
        "PERSON",
        "MRN",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "STREET_ADDRESS",
        "DATE_OF_BIRTH",
        "US_SSN",
        "INSURANCE_ID",
        "CANARY",
    }
    dob_formats = {re.sub(r"\d", "9", p.value) for p in fed.manifest if p.kind == "DATE_OF_BIRTH"}
    assert len(dob_formats) >= 3


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_hospitals": 0}, "n_hospitals"),
        ({"episodes_per_hospital": -1}, "episodes_per_hospital"),
        ({"seed": 1.5}, "seed"),
        ({"eval_per_tool": True}, "eval_per_tool"),
        ({"episodes_per_hospital": 1, "canaries_per_hospital": 2}, "canaries"),
    ],
)
def test_invalid_parameters_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        generate_federation(**kwargs)  # type: ignore[arg-type]


def _phrase_episodes(episodes: list[Episode], phrase: str, value: str) -> int:
    return sum(
        _said(e.request, phrase) and value in map(str, e.call.arguments.values()) for e in episodes
    )


def _jargon_of(request: str, gold: ToolCall) -> list[tuple[str, str]]:
    """(value, phrase) of the gold values the request writes in a house phrase."""
    return [
        (str(v), p)
        for v in gold.arguments.values()
        for p in JARGON.get(str(v), ())
        if _said(request, p)
    ]


def test_held_out_traffic_is_a_uniform_draw_not_chosen_by_the_miners_rule(
    fed: Federation,
) -> None:
    """local / elsewhere: who asks; the requests follow their hospital's own mix and words."""
    tagged = [r for r in fed.eval_requests if r.needs in ("local", "elsewhere")]
    assert {r.needs for r in tagged} == {"local", "elsewhere"}
    tools = {h.hospital_id: set(h.tools) for h in fed.hospitals}
    for request in tagged:
        source = request.request_id.split("-")[1]
        assert request.gold.tool in tools[source]
        assert (request.hospital_id == source) == (request.needs == "local")
    with_jargon = [r for r in tagged if _jargon_of(r.request, r.gold)]
    assert 0 < len(with_jargon) < len(tagged)  # house phrases at their usual rate, not always
    members = {h.hospital_id: h.members for h in fed.hospitals}
    rare = [
        r
        for r in with_jargon
        for value, phrase in _jargon_of(r.request, r.gold)
        if _phrase_episodes(members[r.request_id.split("-")[1]], phrase, value) < 2
    ]
    assert rare  # some use a phrase the members show fewer than twice: no k = 2 filter


def test_docs_requests_are_spread_over_the_hospitals(fed: Federation) -> None:
    docs = [r for r in fed.eval_requests if r.needs == "docs"]
    assert {r.hospital_id for r in docs} == {h.hospital_id for h in fed.hospitals}
