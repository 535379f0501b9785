"""Known identifiers (episodes' pii, roster) and the allow-list, without Presidio: fast rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.errors import DataError
from fical_secure.scrub.known import KnownIdentifiers, read_roster
from fical_secure.scrub.vocabulary import AllowList

KNOWN = KnownIdentifiers().extend(
    [
        ("PERSON", "Zoë Müller-Schmidt"),
        ("PERSON", "Maria Lopez"),
        ("PERSON", "Ludwig van Beethoven"),
        ("MRN", "MRN-0042137"),
        ("EMAIL_ADDRESS", "Maria.L@example.org"),
    ]
)

FOUND: list[tuple[str, list[str]]] = [
    ("ZOE MULLER-SCHMIDT was seen", ["ZOE", "MULLER", "SCHMIDT"]),
    ("lopez, maria called back", ["lopez", "maria"]),
    ("Beethovan (typo) at bedside", ["Beethovan"]),
    ("chart 004-2137 and mrn 0042137", ["004-2137", "0042137"]),
    ("write to maria.l@EXAMPLE.org", ["maria.l@EXAMPLE.org", "maria"]),
]
NOT_FOUND = [
    "van der Berg and Lopes were not on the roster",  # particles alone, other people
    "gave 0042138 units",  # one digit off is another number
    "a 42137 step count",  # too short a digit core on its own
]


@pytest.mark.parametrize(("text", "values"), FOUND)
def test_known_values_are_found_in_any_case_accent_separator_or_one_typo(
    text: str, values: list[str]
) -> None:
    assert sorted(text[s.start : s.end] for s in KNOWN.find(text)) == sorted(values)


@pytest.mark.parametrize("text", NOT_FOUND)
def test_unknown_values_are_not_found(text: str) -> None:
    assert KNOWN.find(text) == []


def test_roster_rows_are_read_and_bad_lines_are_named(tmp_path: Path) -> None:
    good = tmp_path / "roster.jsonl"
    good.write_text('{"kind": "PERSON", "value": "Ana Ruiz"}\n\n', encoding="utf-8")
    assert read_roster(good) == [("PERSON", "Ana Ruiz")]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"kind": "PERSON", "value": "Ana"}\n{"kind": "PERSON"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl line 2"):
        read_roster(bad)
    binary = tmp_path / "latin1.jsonl"
    binary.write_bytes('{"kind": "PERSON", "value": "Zoë"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="line 1: not valid UTF-8"):
        read_roster(binary)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        read_roster(empty)


ALLOW = AllowList.build(CATALOGUE)


@pytest.mark.parametrize(
    ("value", "covered"),
    [
        ("icd10_lookup", True),  # tool name
        ("body_part", True),  # argument name
        ("lipid panel", True),  # enum value in words
        ("Coumadin", True),  # brand drug
        ("atorvastatin", True),
        ("BP", True),
        ("LDL", True),
        ("Convert", True),  # word of a tool description
        ("Prednisone, Atenolol", True),
        ("Maria Coumadin", False),  # a name beside a drug is not vocabulary
        ("LDL 130", False),
        ("99213", False),  # numbers are never allow-listed (a CPT code is also a ZIP)
        ("Lopez", False),
    ],
)
def test_allow_list_covers_vocabulary_only(value: str, covered: bool) -> None:
    assert ALLOW.covers(value) is covered
