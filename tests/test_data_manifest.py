"""The PII manifest is exact: every recorded value is in its text, every planted value recorded."""

from __future__ import annotations

import re

import pytest
from faker.providers.address.en_US import Provider as AddressProvider
from faker.providers.person.en_US import Provider as PersonProvider

from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import PII_KINDS, Federation
from fical_secure.data.vocab import MONTHS

# Shapes of the structured PII kinds; after removing the recorded values from a
# text, none of them may match anything.
_STRUCTURED = {
    "MRN": re.compile(r"MRN-\d{7}"),
    "US_SSN": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "EMAIL_ADDRESS": re.compile(r"\S+@\S+"),
    "INSURANCE_ID": re.compile(r"\b[A-Z]{3}\d{9}\b"),
    "CANARY": re.compile(r"canary [0-9a-f]{4}-"),
    "PHONE_NUMBER": re.compile(r"(?<!\d)\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}(?!\d)"),
    "DATE_OF_BIRTH": re.compile(r"\b(?:DOB|born)\s+(?!<PII>)"),
    "STREET_ADDRESS": re.compile(
        r"\b\d+ (?:[A-Z][a-z]+ )+(?:" + "|".join(AddressProvider.street_suffixes) + r")\b"
    ),
}
_NAME_WORDS = (set(PersonProvider.first_names) | set(PersonProvider.last_names)) - set(MONTHS)


@pytest.fixture(scope="module", params=[0, 7])
def fed(request: pytest.FixtureRequest) -> Federation:
    return generate_federation(seed=request.param)


def _texts(fed: Federation) -> dict[str, str]:
    texts = {e.episode_id: e.text() for h in fed.hospitals for e in h.members + h.nonmembers}
    texts.update({r.request_id: r.request for r in fed.eval_requests})
    return texts


def _without_recorded(text: str, values: list[str]) -> str:
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "<PII>")
    return text


def test_every_manifest_value_occurs_in_its_episode_text(fed: Federation) -> None:
    texts = _texts(fed)
    absent = [p for p in fed.manifest if p.value not in texts[p.episode_id]]
    assert absent == []
    assert {p.kind for p in fed.manifest} <= set(PII_KINDS)


def test_manifest_is_exactly_the_episodes_and_eval_records(fed: Federation) -> None:
    from_episodes = [p for h in fed.hospitals for e in h.members + h.nonmembers for p in e.pii]
    assert fed.manifest[: len(from_episodes)] == from_episodes
    rest = fed.manifest[len(from_episodes) :]
    assert rest and all(p.episode_id.startswith("eval-") for p in rest)
    assert len(set(fed.manifest)) == len(fed.manifest)


def test_no_unrecorded_structured_pii_remains_in_any_text(fed: Federation) -> None:
    by_owner: dict[str, list[str]] = {}
    for p in fed.manifest:
        by_owner.setdefault(p.episode_id, []).append(p.value)
    leftovers = []
    for owner, text in _texts(fed).items():
        residue = _without_recorded(text, by_owner.get(owner, []))
        leftovers += [
            (owner, kind, m.group())
            for kind, pattern in _STRUCTURED.items()
            for m in pattern.finditer(residue)
        ]
    assert leftovers == []


def test_no_unrecorded_person_name_remains_in_any_text(fed: Federation) -> None:
    by_owner: dict[str, list[str]] = {}
    for p in fed.manifest:
        by_owner.setdefault(p.episode_id, []).append(p.value)
    leftovers = []
    for owner, text in _texts(fed).items():
        residue = _without_recorded(text, by_owner.get(owner, []))
        leftovers += [(owner, w) for w in re.findall(r"[A-Z][a-z]+", residue) if w in _NAME_WORDS]
    assert leftovers == []


def test_structured_patterns_catch_the_values_they_check_for(fed: Federation) -> None:
    # The residue tests only mean something if each pattern finds its kind in raw text.
    texts = _texts(fed)
    for kind, pattern in _STRUCTURED.items():
        if kind == "DATE_OF_BIRTH":
            continue  # checked by context word, below
        values = [p for p in fed.manifest if p.kind == kind]
        hits = [p for p in values if pattern.search(p.value)]
        assert values and len(hits) == len(values), kind
    dob_lines = [t for t in texts.values() if re.search(r"\b(?:DOB|born) ", t)]
    assert dob_lines


def test_pii_values_point_at_one_patient_each(fed: Federation) -> None:
    owners: dict[tuple[str, str], set[str]] = {}
    for p in fed.manifest:
        if p.kind in ("MRN", "US_SSN", "EMAIL_ADDRESS", "INSURANCE_ID", "PERSON", "CANARY"):
            owners.setdefault((p.kind, p.value), set()).add(p.episode_id)
    assert all(len(episodes) == 1 for episodes in owners.values())
