"""How argument values are said in words, shared by the generator and by parsers.

Enumerated catalogue values are identifiers (``lipid_panel``, ``mg_dl``); a
clinician writes them as words ("lipid panel", "mg/dL"). The generator renders
every enum value through :data:`ENUM_WORDS`, so a tool-call parser can invert
the same table to recover gold arguments from request text.
"""

from __future__ import annotations

from datetime import date

from fical_secure.data.schema import ArgValue

# (argument name, value) -> the words used in requests; values not listed are
# written as they are (drug names, departments, diagnoses, CPT codes, wards).
ENUM_WORDS: dict[tuple[str, str], str] = {
    ("test", "lipid_panel"): "lipid panel",
    ("vital", "blood_pressure"): "blood pressure",
    ("vital", "heart_rate"): "heart rate",
    ("vital", "spo2"): "SpO2",
    ("vital", "respiratory_rate"): "respiratory rate",
    ("ward", "icu"): "ICU",
    ("modality", "xray"): "X-ray",
    ("modality", "ct"): "CT",
    ("modality", "mri"): "MRI",
    ("from_unit", "mg_dl"): "mg/dL",
    ("from_unit", "mmol_l"): "mmol/L",
}

MONTHS: tuple[str, ...] = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def enum_words(arg: str, value: str) -> str:
    """Return the words a clinician uses for the enum ``value`` of argument ``arg``."""
    return ENUM_WORDS.get((arg, value), value)


def other_unit(from_unit: str) -> str:
    """The glucose unit that ``from_unit`` converts to, in words."""
    return enum_words("from_unit", "mmol_l" if from_unit == "mg_dl" else "mg_dl")


def number_words(value: ArgValue) -> str:
    """Write a number as a clinician would: ``72.5``, ``168`` (not ``168.0``)."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def date_words(day: date, style: int) -> str:
    """Write ``day`` in one of five styles (ISO, US numeric, long, dashed US, short).

    The month names come from :data:`MONTHS`, not ``strftime``, so the output
    does not depend on the process locale.
    """
    month = MONTHS[day.month - 1]
    styles = (
        day.isoformat(),
        f"{day.month:02d}/{day.day:02d}/{day.year}",
        f"{month} {day.day}, {day.year}",
        f"{day.month:02d}-{day.day:02d}-{day.year}",
        f"{day.day} {month[:3]} {day.year}",
    )
    return styles[style % len(styles)]


DATE_STYLES = 5


def value_surfaces(arg: str, value: str) -> tuple[str, ...]:
    """Lower-case standard ways of writing an enum ``value``: what the tool docs imply.

    The value itself, with ``_`` read as a space or ``/``, and its standard
    words (:data:`ENUM_WORDS`); longest first. House jargon is not here: it
    has to be learned from examples.
    """
    forms = {value, value.replace("_", " "), value.replace("_", "/"), enum_words(arg, value)}
    return tuple(sorted({f.lower() for f in forms if f}, key=lambda f: (-len(f), f)))
