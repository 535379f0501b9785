"""Recognizers of dates in clinical formats, dates of birth and ages over 89.

HIPAA Safe Harbor removes every element of a date except the year, and every
age over 89. A bare year ("1958") is therefore not matched; "March 1958" is.
"""

from __future__ import annotations

from fical_secure.scrub.recognizers.base import ClinicalPatternRecognizer

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_MM = r"(?:0?[1-9]|1[0-2])"
_DD = r"(?:0?[1-9]|[12]\d|3[01])"
_DD_TH = rf"{_DD}(?:st|nd|rd|th)?"
_YYYY = r"(?:1[89]\d{2}|20\d{2})"
_YY = r"\d{2}"

# Date shapes, most specific first; each is a complete alternative.
DATE_FORMS: tuple[tuple[str, str], ...] = (
    ("MM/DD/YYYY", rf"\b{_MM}(?P<s1>[/.-]){_DD}(?P=s1){_YYYY}\b"),
    ("YYYY-MM-DD", rf"\b{_YYYY}(?P<s2>[/.-]){_MM}(?P=s2){_DD}\b"),
    ("Month DD, YYYY", rf"\b{_MONTH}\s+{_DD_TH},?\s+{_YYYY}\b"),
    ("DD Month YYYY", rf"\b{_DD_TH}(?:\s+of)?\s+{_MONTH},?\s+{_YYYY}\b"),
    ("DD-Mon-YYYY", rf"\b{_DD}[-/ ]{_MONTH}[-/ ](?:{_YYYY}|{_YY})\b"),
    ("MM/DD/YY", rf"\b{_MM}/{_DD}/{_YY}\b"),
    ("Month YYYY", rf"\b{_MONTH}\s+{_YYYY}\b"),
    ("Month DD", rf"\b{_MONTH}\s+{_DD_TH}\b(?!\s*(?:mg|ml|units?|%))"),
    # "3/80", "11/2069": month and year. Not "5/10" (pain scales are out of 10).
    ("M/YY", rf"(?<![\d/.])\b{_MM}/(?!10\b)(?:{_YY}|{_YYYY})\b(?![/.]\d)"),
)
# A month name alone ("I have not seen him since November"); "May" only before a day or year.
BARE_MONTH = (
    r"\b(?-i:January|February|March|April|June|July|August|September|October|November"
    r"|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b\.?"
)


def _any_date() -> str:
    """One regex for any date shape (group names are unique across the forms)."""
    return "(?:" + "|".join(regex for _, regex in DATE_FORMS) + ")"


_DOB_LABEL = (
    r"DOB|D\.O\.B\.?|date\s+of\s+birth|birth\s*date|birthdate|born(?:\s+on)?|birthday"
    r"|date_of_birth|dob_?"
)


class ClinicalDateRecognizer(ClinicalPatternRecognizer):
    """Dates: "03/14/1958", "1958-03-14", "March 14, 1958", "14-Mar-1958", "3/80", "November"."""

    ENTITY = "DATE"
    PATTERNS = (
        ("MM/DD/YYYY", DATE_FORMS[0][1], 0.6),
        ("YYYY-MM-DD", DATE_FORMS[1][1], 0.6),
        ("Month DD, YYYY", DATE_FORMS[2][1], 0.6),
        ("DD Month YYYY", DATE_FORMS[3][1], 0.6),
        ("DD-Mon-YYYY", DATE_FORMS[4][1], 0.6),
        ("MM/DD/YY", DATE_FORMS[5][1], 0.45),
        ("Month YYYY", DATE_FORMS[6][1], 0.45),
        ("Month DD", DATE_FORMS[7][1], 0.4),
        ("M/YY", DATE_FORMS[8][1], 0.45),
        ("month name", BARE_MONTH, 0.45),
    )
    CONTEXT = ("date", "on", "admitted", "discharged", "seen", "visit", "dob")


class DateOfBirthRecognizer(ClinicalPatternRecognizer):
    """Dates of birth: any date shape right after "DOB", "date of birth", "born"."""

    ENTITY = "DATE_OF_BIRTH"
    PATTERNS = (
        (
            "date after DOB label",
            rf"(?<=\b(?:{_DOB_LABEL})(?:\s{{1,3}}(?:is|was|of)\b)?[\s:#=\"'(]{{0,6}})"
            rf"{_any_date()}",
            0.95,
        ),
    )
    CONTEXT = ("dob", "birth", "born")


class AgeOver89Recognizer(ClinicalPatternRecognizer):
    """Ages of 90 and over: "92-year-old", "93 y/o", "aged 95", "age=101"."""

    ENTITY = "AGE_OVER_89"
    PATTERNS = (
        (
            "age before years",
            r"\b(?:9\d|1[0-2]\d)(?=\s*-?\s*(?:years?|yrs?|y/?o|y\.o\.|yo|year-old)\b)",
            0.8,
        ),
        (
            "age after label",
            r"(?<=\bage[ds]?(?:\s{1,3}(?:of|is|was)\b)?[\s:=\"']{0,6})(?:9\d|1[0-2]\d)\b",
            0.8,
        ),
    )
    CONTEXT = ("age", "aged", "year old", "years old")
