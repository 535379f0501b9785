"""Names and places are masked however they are cased; vocabulary is kept."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("presidio_analyzer")

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.scrub.casing import LISTS, Casing, _read_lists, _set_toml, load_lexicon
from fical_secure.scrub.known import KnownIdentifiers
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.scrub.vocabulary import AllowList


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber.default().with_context(catalogue=CATALOGUE)


ALIAS = 'Staff write "{}" for department="dermatology" when they ask for schedule_appointment.'


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("book xiomara okafor for dermatology next week", ["xiomara", "okafor"], ["dermatology"]),
        (ALIAS.format("xiomara okafor"), ["xiomara", "okafor"], ["schedule_appointment"]),
        (ALIAS.format("okafor"), ["okafor"], ["department"]),  # a bare surname
        ("ask okafor about the chem-7", ["okafor"], ["chem-7"]),
        ("Book Xiomara Okafor For Dermatology Next Week", ["Xiomara", "Okafor"], ["Dermatology"]),
        ("XIOMARA OKAFOR needs a BMP", ["XIOMARA", "OKAFOR"], ["BMP"]),
        ("patient from rose hill, booked for cardiology", ["rose hill"], ["cardiology"]),
        ("pls pull the hba1c, ecg and cbc for the pt in 4 west", [], ["hba1c", "ecg", "4 west"]),
        (ALIAS.format("chem-7"), [], ["chem-7", "dermatology"]),
        ("iban gb55wadd13503359747824, mrn-0042137", ["gb55wadd", "0042137"], []),
    ],
)
def test_names_and_places_in_any_case_are_masked_and_vocabulary_kept(
    scrubber: Scrubber, text: str, hidden: list[str], kept: list[str]
) -> None:
    out = scrubber.scrub(text).scrubbed
    for value in hidden:
        assert value not in out, out
    for value in kept:
        assert value in out, out


def test_a_known_address_hides_its_place_name_in_an_alias(scrubber: Scrubber) -> None:
    text = ALIAS.format("rose hill")
    assert "rose hill" in scrubber.scrub(text).scrubbed  # two English words: nothing says place
    known = KnownIdentifiers().extend([("STREET_ADDRESS", "12 Rose Hill Road, Lakeside")])
    assert "rose hill" not in scrubber.with_context(known=known).scrub(text).scrubbed


def test_a_bare_surname_that_is_an_english_word_is_masked_when_known(scrubber: Scrubber) -> None:
    text = "ask brown about the chem-7"
    assert "brown" in scrubber.scrub(text).scrubbed
    known = KnownIdentifiers().extend([("PERSON", "Xiomara Brown")])
    assert "brown" not in scrubber.with_context(known=known).scrub(text).scrubbed


def test_the_recased_copy_keeps_length_and_only_recases_names() -> None:
    casing = Casing(load_lexicon(), AllowList.build(CATALOGUE))
    text = "book xiomara okafor from rose hill for the bmp"
    recased = casing.recase(text)
    assert recased == "book Xiomara Okafor from Rose Hill for the bmp"
    assert [text[s.start : s.end] for s in casing.name_spans(text)] == ["xiomara okafor"]


def test_the_word_lists_are_parsed_once_per_machine_and_equal_the_toml(tmp_path: Path) -> None:
    path = _set_toml()
    first = _read_lists(path, tmp_path)
    (copy,) = (tmp_path / "lexicons").iterdir()
    assert first == {k: tomllib.loads(path.read_text(encoding="utf-8"))[k] for k in LISTS}
    # a second read takes the copy: a marked copy comes back as it is
    marked = {**first, "nonames": [*first["nonames"], "marker-word"]}
    copy.write_text(json.dumps(marked), encoding="utf-8")
    assert _read_lists(path, tmp_path)["nonames"][-1] == "marker-word"
    # an unreadable or incomplete copy is parsed again and replaced
    for broken in (
        "{not json",
        json.dumps({"nonames": []}),
        json.dumps({**first, "lastnames": [1]}),
    ):
        copy.write_text(broken, encoding="utf-8")
        assert _read_lists(path, tmp_path) == first
        assert json.loads(copy.read_text(encoding="utf-8")) == first
