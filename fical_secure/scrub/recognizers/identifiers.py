"""Recognizers of clinical and HIPAA Safe Harbor identifier numbers.

Covers medical record numbers, NPIs (Luhn on the 80840 prefix), health-plan
member ids, account numbers, certificate / license numbers, vehicle ids (VIN,
plates), device serials / UDIs and fax numbers. Ids without a fixed shape are
caught only right after a label ("account #", "serial no."): an unlabelled
free-form number is out of reach of any pattern.
"""

from __future__ import annotations

from fical_secure.scrub.recognizers.base import ClinicalPatternRecognizer, after_label

# A free-form id: letters, digits and inner dashes, with at least one digit.
_FREE_ID = r"(?=[A-Z0-9-]*\d)[A-Z0-9](?:[A-Z0-9-]{2,28}[A-Z0-9])\b"
_PHONE_SHAPE = r"(?:\+?1[-.\s]?)?\(?\d{3}\)?[-.\s]?\d{3}[-.\s]?\d{4}\b"


class MedicalRecordNumberRecognizer(ClinicalPatternRecognizer):
    """Medical record numbers: "MRN-0042137", "MRN 0042137", "medical record #0042137"."""

    ENTITY = "MRN"
    PATTERNS = (
        ("MRN prefixed token", r"\bMRN[-_#:]?\s?\d{5,10}\b", 0.9),
        (
            "MRN after label",
            after_label(
                r"MRN|MR|medical\s+record|med\.?\s*rec\.?|chart|patient\s+id|hospital\s+id",
                r"(?:MRN-?)?[A-Z]{0,3}-?\d{5,10}\b",
            ),
            0.85,
        ),
        ("MRN bare digits (weak)", r"\b\d{7,8}\b", 0.05),
    )
    CONTEXT = ("mrn", "medical record", "record", "chart", "patient id")


class NpiRecognizer(ClinicalPatternRecognizer):
    """National Provider Identifier: 10 digits starting 1 or 2, Luhn-valid with prefix 80840."""

    ENTITY = "NPI"
    PATTERNS = (
        ("NPI 10 digits", r"\b[12]\d{9}\b", 0.5),
        ("NPI grouped", r"\b[12]\d{3}[ -]\d{3}[ -]\d{3}\b", 0.5),
    )
    CONTEXT = ("npi", "provider", "national provider", "prescriber")

    def validate_result(self, pattern_text: str) -> bool | None:
        """Drop candidates failing the CMS Luhn check; keep the pattern score otherwise."""
        digits = "".join(ch for ch in pattern_text if ch.isdigit())
        return None if npi_checksum_ok(digits) else False


def npi_checksum_ok(digits: str) -> bool:
    """CMS NPI check: Luhn over "80840" + the 10 digits, and not one repeated digit."""
    if len(digits) != 10 or not digits.isdigit() or len(set(digits[:-1])) == 1:
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class InsuranceIdRecognizer(ClinicalPatternRecognizer):
    """Health-plan member ids: "ABC123456789", "XYZ-98765432", or any id after "member id"."""

    ENTITY = "INSURANCE_ID"
    PATTERNS = (
        ("payer prefix + digits", r"\b(?-i:[A-Z]{2,4})-?\d{8,12}\b", 0.7),
        (
            "id after health-plan label",
            after_label(
                r"member|subscriber|policy|insurance|health[-\s]plan|beneficiary|medicaid|medicare",
                _FREE_ID,
            ),
            0.85,
        ),
    )
    CONTEXT = ("member", "subscriber", "insurance", "policy", "health plan", "beneficiary")


class AccountNumberRecognizer(ClinicalPatternRecognizer):
    """Account numbers after a label: "account # 00123-88", "acct no. 55120931"."""

    ENTITY = "ACCOUNT_NUMBER"
    PATTERNS = (
        (
            "id after account label",
            after_label(r"account|acct|a/c|billing\s+account", _FREE_ID),
            0.8,
        ),
    )
    CONTEXT = ("account", "acct", "billing")


class LicenseNumberRecognizer(ClinicalPatternRecognizer):
    """Certificate / license numbers after a label: "license no. CA-A123456"."""

    ENTITY = "LICENSE_NUMBER"
    PATTERNS = (
        (
            "id after license label",
            after_label(
                r"license|licence|lic\.?|certificate|cert\.?|registration|DEA|board\s+cert(?:ification)?",
                _FREE_ID,
            ),
            0.8,
        ),
    )
    CONTEXT = ("license", "licence", "certificate", "registration", "dea")


class VehicleIdRecognizer(ClinicalPatternRecognizer):
    """Vehicle identifiers: 17-character VINs (no I, O, Q) and plates after a label."""

    ENTITY = "VEHICLE_ID"
    PATTERNS = (
        (
            "VIN",
            r"\b(?-i:(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17})\b",
            0.6,
        ),
        (
            "VIN after label",
            after_label(r"VIN|vehicle(?:\s+identification)?", r"[A-HJ-NPR-Z0-9]{11,17}\b"),
            0.85,
        ),
        (
            "plate after label",
            after_label(
                r"(?:license\s+)?plate|tag", r"(?=[A-Z0-9 -]*\d)[A-Z0-9][A-Z0-9 -]{1,7}[A-Z0-9]\b"
            ),
            0.8,
        ),
    )
    CONTEXT = ("vin", "vehicle", "plate")


class DeviceIdRecognizer(ClinicalPatternRecognizer):
    """Device identifiers and serials: GS1 UDIs and ids after "serial", "S/N", "IMEI"."""

    ENTITY = "DEVICE_ID"
    PATTERNS = (
        ("GS1 UDI", r"\(01\)\d{14}(?:\(\d{2}\)[A-Z0-9-]{1,20})*", 0.9),
        (
            "id after serial label",
            after_label(
                r"serial|S/N|SN|device(?:\s+id)?|UDI|IMEI|implant(?:\s+id)?|pacemaker", _FREE_ID
            ),
            0.8,
        ),
    )
    CONTEXT = ("serial", "device", "udi", "imei", "implant")


class PhoneShapeRecognizer(ClinicalPatternRecognizer):
    """North-American phone shapes, valid area code or not: "(425)555-0100", "349.831.8642x8212".

    Presidio's phone recognizer asks ``phonenumbers`` whether the number is
    assigned; a fictitious or mistyped number still identifies a patient.
    """

    ENTITY = "PHONE_NUMBER"
    PATTERNS = (
        (
            "NANP shape",
            r"(?<![\w.])(?:\+?1[-.\s]?|001[-.\s]?)?(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}"
            r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?\b",
            0.6,
        ),
        (
            "10 digits near a phone word",
            r"(?<=\b(?:phone|tel|telephone|cell|mobile|call|called|callback|contact|reach|text|pager)\b"
            r"(?:\W{1,4}\w+){0,3}?\W{1,4})(?:\+?1)?\d{10}\b",
            0.8,
        ),
        ("10 digits (weak, needs context)", r"(?<![\w.])\d{10}\b", 0.1),
    )
    CONTEXT = ("phone", "call", "called", "contact", "callback", "cell", "mobile", "tel")


class ReferenceIdRecognizer(ClinicalPatternRecognizer):
    """Other identifying codes shaped like "IMG-A5722D" or "ORD-20931" (Safe Harbor kind 18).

    Order, accession and confirmation numbers point at one patient's encounter.
    """

    ENTITY = "OTHER_ID"
    PATTERNS = (("prefix-code", r"\b(?-i:[A-Z]{2,5})-(?=[A-Z0-9]*\d)(?-i:[A-Z0-9]{5,12})\b", 0.5),)
    CONTEXT = ("order", "accession", "confirmation", "reference", "ref")


class FaxNumberRecognizer(ClinicalPatternRecognizer):
    """Fax numbers: a phone-shaped number right after "fax"."""

    ENTITY = "FAX_NUMBER"
    PATTERNS = (("phone shape after fax label", after_label(r"fax|facsimile", _PHONE_SHAPE), 0.9),)
    CONTEXT = ("fax", "facsimile")


class PhoneExtensionRecognizer(ClinicalPatternRecognizer):
    """Internal extensions and pagers: "x53423", "ext. 4-1234", "pager #12345", "beeper 3321"."""

    ENTITY = "PHONE_NUMBER"
    PATTERNS = (
        (
            "extension after label",
            r"(?<=\b(?:x|ext\.?|extension|pager|beeper|pgr|bpr|page)[ \t]{0,3}#?[ \t]{0,3})"
            r"\d(?:-?\d){3,5}\b",
            0.6,
        ),
    )
    CONTEXT = ("pager", "ext", "extension", "beeper", "call")


class OtherCodeRecognizer(ClinicalPatternRecognizer):
    """Unique codes of clinical systems: usernames "FB59", ids "560-40-78-5", "XW277/90683".

    Lab and drug codes of the clinical vocabulary ("CA125", "ICD10") are kept by
    the scrubber's allow-list, not here.
    """

    ENTITY = "OTHER_ID"
    PATTERNS = (
        ("username letters+digits", r"\b(?-i:[A-Z]{2,3}\d{2,3})\b", 0.5),
        ("dashed digit groups", r"(?<![\w.-])\d{2,}(?:-\d{1,6}){2,}(?![\w-])", 0.45),
        ("code with slash", r"\b(?-i:[A-Z]{1,3})\d{2,}/\d{3,}\b", 0.6),
        ("long digit run", r"(?<![\w.,])\d{6,}(?![\w.,]\d)", 0.4),
    )
    CONTEXT = ("id", "number", "code", "user", "username", "account", "unit")
