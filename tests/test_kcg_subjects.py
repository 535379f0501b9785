"""KCG's k counts distinct subjects (patients), and no alias names a known identifier."""

from __future__ import annotations

import pytest

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.loader import episode_record, parse_episode
from fical_secure.data.schema import Episode, PIIValue, ToolCall
from fical_secure.kcg.mining import mine_aliases
from fical_secure.kcg.subjects import subjects_of
from fical_secure.scrub.known import KnownIdentifiers


def _lab(
    i: int, request: str, test: str, pii: tuple[PIIValue, ...] = (), subject: str = ""
) -> Episode:
    call = ToolCall("lab_results_lookup", {"mrn": f"MRN-{i:07d}", "test": test})
    return Episode(f"e{i}", "h01", request, call, "ok", "ok", "member", pii, subject)


def _corpus(alias_episodes: list[Episode]) -> list[Episode]:
    return alias_episodes + [
        _lab(10 + i, f"Pull the {t} for MRN-{10 + i:07d}.", t)
        for i, t in enumerate(("CBC", "TSH", "BMP", "INR"))
    ]


def _phrases(episodes: list[Episode], known: KnownIdentifiers | None = None) -> set[str]:
    mined = mine_aliases(episodes, CATALOGUE, min_support=2, known=known)
    return {m.claim.phrase.lower() for m in mined}


def test_episodes_group_into_subjects_by_subject_field_then_pii_then_alone() -> None:
    episodes = [
        _lab(0, "a", "BMP", (PIIValue("MRN", "MRN-0000001", "e0"),)),
        _lab(
            1,
            "b",
            "BMP",
            (PIIValue("MRN", "mrn 000 0001", "e1"), PIIValue("PERSON", "Zoë Ng", "e1")),
        ),
        _lab(2, "c", "BMP", (PIIValue("PERSON", "ZOE NG", "e2"),)),
        _lab(3, "d", "BMP", subject="p-9"),
        _lab(4, "e", "BMP", subject="p-9"),
        _lab(5, "f", "BMP"),
    ]
    subjects = subjects_of(episodes)
    assert subjects.count(["e0", "e1", "e2"]) == 1  # linked through MRN digits and folded name
    assert subjects.count(["e3", "e4"]) == 1 and subjects.count(["e0", "e3", "e5"]) == 3
    assert subjects.unknown == 1 and subjects.counted == "subjects where known, else episodes"
    assert subjects_of(episodes[:5]).counted == "subjects"
    assert subjects_of([_lab(7, "g", "BMP")]).counted == "episodes"


@pytest.mark.parametrize(("same_patient", "mined"), [(True, False), (False, True)])
def test_an_alias_one_patient_shows_three_times_has_support_one(
    same_patient: bool, mined: bool
) -> None:
    def mrn(i: int) -> PIIValue:
        return PIIValue("MRN", "MRN-0000001" if same_patient else f"MRN-000000{i + 2}", f"e{i}")

    alias = [_lab(i, "Pull the chem-7.", "BMP", (mrn(i),)) for i in range(3)]
    assert ("chem-7" in _phrases(_corpus(alias))) is mined


def test_a_phrase_that_names_a_known_identifier_is_never_mined() -> None:
    alias = [_lab(i, "Pull bloods for xiomara okafor.", "BMP") for i in range(3)]
    assert any("okafor" in p for p in _phrases(_corpus(alias)))  # three episodes, no subject known
    known = KnownIdentifiers().extend([("PERSON", "Xiomara Okafor")])
    assert not any("okafor" in p or "xiomara" in p for p in _phrases(_corpus(alias), known))
    place = KnownIdentifiers().extend([("STREET_ADDRESS", "12 Rose Hill Road, Lakeside")])
    assert place.named_in("rose hill") and not place.named_in("chem-7")


def test_the_episode_format_carries_an_optional_subject() -> None:
    episode = _lab(0, "Pull the chem-7.", "BMP", subject="patient-17")
    record = episode_record(episode)
    assert record["subject"] == "patient-17"
    parsed, problems = parse_episode(record, 1, hospital_id="h01")
    assert problems == [] and parsed is not None and parsed.subject == "patient-17"
    assert "subject" not in episode_record(_lab(1, "x", "BMP"))
    _, problems = parse_episode(record | {"subject": ""}, 1, hospital_id="h01")
    assert problems == ["field 'subject' must not be empty"]


def test_a_value_every_call_writes_is_an_alias_of_no_phrase() -> None:
    # every lab call asks for the BMP: "fasting" co-occurs with it, as does every other word,
    # but the calls would write BMP without it, so it is a usual value, not an alias
    constant = [_lab(i, f"Fasting labs for MRN-{i:07d}.", "BMP") for i in range(3)]
    constant += [_lab(5 + i, f"Labs for MRN-{5 + i:07d}.", "BMP") for i in range(4)]
    assert _phrases(constant) == set()
    # with other tests in the mix the same phrase selects the value and is mined
    assert _phrases(_corpus(constant[:3])) == {"fasting labs"}
