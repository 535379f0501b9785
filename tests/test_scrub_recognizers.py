"""Table-driven tests of each clinical recognizer on its own: (text, expected spans) rows.

The recognizers run without spaCy here (pattern matching only, Presidio's regex
flags), so only matches scoring at or above the default profile's threshold
count, as they would in the engine before context boosts.
"""

from __future__ import annotations

import pytest

pytest.importorskip("presidio_analyzer")

from fical_secure.config.scrub import CLINICAL_RECOGNIZER_NAMES, load_profile
from fical_secure.scrub.recognizers import CLINICAL_RECOGNIZERS
from fical_secure.scrub.recognizers.base import ClinicalPatternRecognizer
from fical_secure.scrub.recognizers.identifiers import npi_checksum_ok

THRESHOLD = load_profile().score_threshold

ROWS: list[tuple[str, str, list[str]]] = [
    # medical record numbers
    ("MedicalRecordNumberRecognizer", "Labs for MRN-0042137 today", ["MRN-0042137"]),
    ("MedicalRecordNumberRecognizer", "MRN 0042137 admitted", ["MRN 0042137"]),
    ("MedicalRecordNumberRecognizer", "medical record #0042137 reviewed", ["0042137"]),
    ("MedicalRecordNumberRecognizer", 'lookup(mrn="MRN-1234567")', ["MRN-1234567"]),
    ("MedicalRecordNumberRecognizer", "MRN: 55512345", ["MRN: 55512345"]),
    ("MedicalRecordNumberRecognizer", "gave 0042137 units of saline", []),
    ("MedicalRecordNumberRecognizer", "MRN pending", []),
    # NPI (Luhn with 80840 prefix)
    ("NpiRecognizer", "Prescriber NPI 1234567893.", ["1234567893"]),
    ("NpiRecognizer", "NPI 1234-567-893 on file", ["1234-567-893"]),
    ("NpiRecognizer", "NPI 1234567890 typo", []),
    ("NpiRecognizer", "NPI 1111111112", []),
    # health-plan member ids
    ("InsuranceIdRecognizer", "member ABC123456789 covered", ["ABC123456789"]),
    ("InsuranceIdRecognizer", "Insurance member ID: XQ-98765432", ["XQ-98765432"]),
    ("InsuranceIdRecognizer", "subscriber # W2947-3381", ["W2947-3381"]),
    ("InsuranceIdRecognizer", "abc123456789 lowercase is not a payer code", []),
    ("InsuranceIdRecognizer", "member services called", []),
    # account, license, vehicle, device, fax
    ("AccountNumberRecognizer", "billing account # 00123-88 is overdue", ["00123-88"]),
    ("AccountNumberRecognizer", "acct no. 55120931", ["55120931"]),
    ("AccountNumberRecognizer", "account holder notified", []),
    ("LicenseNumberRecognizer", "license no. CA-A123456", ["CA-A123456"]),
    ("LicenseNumberRecognizer", "certificate 88-31-7790 issued", ["88-31-7790"]),
    ("LicenseNumberRecognizer", "license renewed last year", []),
    ("VehicleIdRecognizer", "VIN 1HGCM82633A004352 on file", ["1HGCM82633A004352"]),
    ("VehicleIdRecognizer", "license plate 7ABC123 seen", ["7ABC123"]),
    ("VehicleIdRecognizer", "vehicle parked outside", []),
    ("DeviceIdRecognizer", "pacemaker serial SN: PM-2231-88X", ["PM-2231-88X"]),
    (
        "DeviceIdRecognizer",
        "UDI (01)00844588003288(17)141120(10)7654321D",
        ["(01)00844588003288(17)141120(10)7654321D"],
    ),
    ("DeviceIdRecognizer", "device checked and working", []),
    ("FaxNumberRecognizer", "fax: 206-555-0199 attn records", ["206-555-0199"]),
    ("FaxNumberRecognizer", "phone 206-555-0199", []),
    # phones Presidio deems unassigned, and other reference codes
    ("PhoneShapeRecognizer", "phone:(425)555-0100", ["(425)555-0100"]),
    ("PhoneShapeRecognizer", "call 349.831.8642x8212 after 5", ["349.831.8642x8212"]),
    ("PhoneShapeRecognizer", "cell +1-297-517-8551", ["+1-297-517-8551"]),
    ("PhoneShapeRecognizer", "She called from 4897308128.", ["4897308128"]),
    ("PhoneShapeRecognizer", "eGFR 1.73 mg 123-45-6789 2024-01-02", []),
    ("ReferenceIdRecognizer", "Order IMG-A5722D placed", ["IMG-A5722D"]),
    ("ReferenceIdRecognizer", "ICD-10 and CKD-EPI are not ids", []),
    # addresses and ZIP codes
    (
        "StreetAddressRecognizer",
        "lives at 123 Main Street, Apt 4B today",
        ["123 Main Street, Apt 4B"],
    ),
    (
        "StreetAddressRecognizer",
        "at 0122 Hill Crossroad Apt. 255, Port Stephanie, IA 77834.",
        ["0122 Hill Crossroad Apt. 255, Port Stephanie, IA 77834"],
    ),
    (
        "StreetAddressRecognizer",
        "58714 Mann Plaza, Lisaside, IL 79561",
        ["58714 Mann Plaza, Lisaside, IL 79561"],
    ),
    ("StreetAddressRecognizer", "PO Box 1234", ["PO Box 1234"]),
    ("StreetAddressRecognizer", "12 patients went this way", []),
    ("ZipCodeRecognizer", "Springfield, IL 62704", ["62704"]),
    ("ZipCodeRecognizer", "zip code: 98101-2345", ["98101-2345"]),
    ("ZipCodeRecognizer", "CPT 97110 billed", []),
    # dates, dates of birth, ages over 89
    ("ClinicalDateRecognizer", "seen 03/14/1958", ["03/14/1958"]),
    ("ClinicalDateRecognizer", "on 1958-03-14 and 14-Mar-1958", ["1958-03-14", "14-Mar-1958"]),
    ("ClinicalDateRecognizer", "on March 14, 1958.", ["March 14, 1958"]),
    ("ClinicalDateRecognizer", "on 2 Jun 1997.", ["2 Jun 1997"]),
    ("ClinicalDateRecognizer", "in 1958 (year only) and 13/45/2020", []),
    ("ClinicalDateRecognizer", "DD: 04/07/69 since 2/17/80", ["04/07/69", "2/17/80"]),
    ("ClinicalDateRecognizer", "diabetes since 3/80, seen in November", ["3/80", "November"]),
    ("ClinicalDateRecognizer", "pain 5/10, BP 120/80, you may go, 1/2 tab", []),
    ("DateOfBirthRecognizer", "DOB 03/14/1958", ["03/14/1958"]),
    ("DateOfBirthRecognizer", "date of birth: 14-Mar-1958", ["14-Mar-1958"]),
    ("DateOfBirthRecognizer", "She was born 2 Jun 1997.", ["2 Jun 1997"]),
    ("DateOfBirthRecognizer", "seen 03/14/1958", []),
    ("AgeOver89Recognizer", "a 92-year-old man", ["92"]),
    ("AgeOver89Recognizer", "93 y/o and age=101", ["93", "101"]),
    ("AgeOver89Recognizer", "an 89 year old and 95 mg", []),
    # names by shape (i2b2 layouts, Unicode, particles)
    ("NameShapeRecognizer", "PATIENT NAME: TOBIAS SCHMIDT\n", ["TOBIAS SCHMIDT"]),
    ("NameShapeRecognizer", "Name: zoë müller is here", ["zoë müller"]),
    ("NameShapeRecognizer", "LOPEZ,MARIA A admitted", ["LOPEZ,MARIA A"]),
    ("NameShapeRecognizer", "seen: Lopez, Maria today", ["Lopez, Maria"]),
    ("NameShapeRecognizer", "per X. G. Tavares", ["X. G. Tavares"]),
    ("NameShapeRecognizer", "Dr. Zoë van der Berg called", ["Zoë van der Berg"]),
    ("NameShapeRecognizer", "Mrs O'Neil", ["O'Neil"]),
    ("NameShapeRecognizer", "XGT:holmes", ["XGT", "holmes"]),
    ("NameShapeRecognizer", "john smith, md", ["john smith"]),
    ("NameShapeRecognizer", "Tool name: icd10_lookup; Hypertension, Diabetes, Asthma", []),
    # extensions, other codes, facilities
    ("PhoneExtensionRecognizer", "page me at x53423 or pager #4-1234", ["53423", "4-1234"]),
    ("PhoneExtensionRecognizer", "x-ray of 53423 cells", []),
    ("OtherCodeRecognizer", "entered by FB59 re 560-40-78-5", ["FB59", "560-40-78-5"]),
    ("OtherCodeRecognizer", "unit XW277/90683, acct 55120931", ["XW277/90683", "55120931"]),
    ("OtherCodeRecognizer", "CD4 and B12 at 12:30, 2.5 mg, 1,000,000 cells", []),
    ("FacilityNameRecognizer", "from Saint Mary's Hospital", ["Saint Mary's Hospital"]),
    ("FacilityNameRecognizer", "at Boston Medical Center today", ["Boston Medical Center"]),
    ("FacilityNameRecognizer", "the hospital clinic was busy", []),
    # canaries of the data generator
    ("CanaryRecognizer", "ref: canary 7f3a-91c2-55de.", ["canary 7f3a-91c2-55de"]),
    ("CanaryRecognizer", "secret 7f3a-91c2-55de", ["7f3a-91c2-55de"]),
    ("CanaryRecognizer", "7f3a-91c2 and 7g3a-91c2-55de", []),
]


def _found(name: str, text: str) -> list[str]:
    recognizer = CLINICAL_RECOGNIZERS[name]()
    assert isinstance(recognizer, ClinicalPatternRecognizer)
    results = recognizer.analyze(text, entities=[recognizer.ENTITY])
    return sorted(text[r.start : r.end] for r in results if r.score >= THRESHOLD)


@pytest.mark.parametrize(
    ("name", "text", "expected"), ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)]
)
def test_recognizer_finds_exactly_the_expected_spans(
    name: str, text: str, expected: list[str]
) -> None:
    assert _found(name, text) == sorted(expected)


def test_every_pattern_recognizer_has_positive_and_negative_rows() -> None:
    pattern_names = {
        n
        for n, cls in CLINICAL_RECOGNIZERS.items()
        if isinstance(cls, type) and issubclass(cls, ClinicalPatternRecognizer)
    }
    for name in pattern_names:
        rows = [expected for n, _t, expected in ROWS if n == name]
        assert any(rows), f"{name} has no positive row"
        assert any(not e for e in rows), f"{name} has no negative row"


def test_registry_names_match_the_profile_schema() -> None:
    assert set(CLINICAL_RECOGNIZERS) == CLINICAL_RECOGNIZER_NAMES


@pytest.mark.parametrize(
    ("npi", "ok"),
    [
        ("1234567893", True),
        ("1245319599", True),
        ("1234567890", False),
        ("2222222222", False),
        ("12345", False),
    ],
)
def test_npi_checksum_follows_cms_luhn_rule(npi: str, ok: bool) -> None:
    assert npi_checksum_ok(npi) is ok
