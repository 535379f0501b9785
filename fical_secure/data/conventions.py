"""House knowledge of the synthetic hospitals: jargon for argument values and terse styles.

Real hospitals write requests in their own words: "chem-7" for a basic
metabolic panel, "Coumadin" for warfarin, "4 West" for the cardiac ward. The
tool documentation knows none of this; the examples of the staff who use the
words do. Each hospital gets a *dialect*: for some enum values of the tools it
holds, one house phrase (drawn from :data:`JARGON`), plus a *terse* style share
(requests such as "chem-7 on MRN-0042137?" that name no tool at all). A value
a hospital has a phrase for is also one its staff ask about often.

Nothing here is shown to the agent: evaluation measures how much of it a
compendium recovers from the examples.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from fical_secure.data.schema import ToolSpec

# enum value -> house phrases (hospitals pick one); each phrase is absent from
# the tool documentation and from the standard words of every other value.
JARGON: dict[str, tuple[str, ...]] = {
    "CBC": ("FBC", "heme panel"),
    "BMP": ("chem-7", "lytes"),
    "HbA1c": ("A1c", "glycohemoglobin"),
    "lipid_panel": ("fasting lipids", "lipo profile"),
    "TSH": ("thyroid screen", "thyrotropin"),
    "INR": ("coags", "protime"),
    "troponin": ("trop", "cardiac enzymes"),
    "warfarin": ("Coumadin", "Jantoven"),
    "aspirin": ("ASA", "Ecotrin"),
    "metformin": ("Glucophage", "Fortamet"),
    "lisinopril": ("Zestril", "Prinivil"),
    "atorvastatin": ("Lipitor", "Torvast"),
    "amoxicillin": ("Amoxil", "Moxatag"),
    "ibuprofen": ("Motrin", "Advil"),
    "omeprazole": ("Prilosec", "Losec"),
    "sertraline": ("Zoloft", "Lustral"),
    "clopidogrel": ("Plavix", "Iscover"),
    "simvastatin": ("Zocor", "Lipex"),
    "levothyroxine": ("Synthroid", "Levoxyl"),
    "cardiology": ("cards", "heart clinic"),
    "oncology": ("onc", "cancer centre"),
    "neurology": ("neuro", "brain clinic"),
    "orthopedics": ("ortho", "bone clinic"),
    "dermatology": ("derm", "skin clinic"),
    "endocrinology": ("endo", "sugar clinic"),
    "blood_pressure": ("BP", "pressures"),
    "heart_rate": ("HR", "heart beat"),
    "temperature": ("temp", "fever curve"),
    "spo2": ("sats", "pulse ox"),
    "respiratory_rate": ("resps", "breaths per minute"),
    "icu": ("MICU", "SICU"),
    "cardiac": ("4 West", "CCU"),
    "maternity": ("L&D", "labour ward"),
    "pediatrics": ("peds", "kids ward"),
    "surgical": ("5 East", "surg ward"),
    "general": ("med-surg", "3 North"),
    "xray": ("plain film", "radiograph"),
    "ct": ("CAT scan", "cross-sectional"),
    "mri": ("MR scan", "magnet scan"),
    "ultrasound": ("sono", "duplex"),
    "type 2 diabetes": ("T2DM", "NIDDM"),
    "essential hypertension": ("HTN", "HBP"),
    "atrial fibrillation": ("afib", "AF"),
    "major depressive disorder": ("MDD", "clinical depression"),
    "gastroesophageal reflux disease": ("GERD", "reflux"),
    "urinary tract infection": ("UTI", "bladder infection"),
    "hypothyroidism": ("underactive thyroid", "low thyroid"),
    "osteoarthritis of knee": ("knee OA", "worn knee"),
    "93000": ("ECG", "EKG"),
    "80053": ("CMP", "chem-14"),
    "36415": ("venipuncture", "blood draw"),
    "71046": ("chest film", "two-view CXR"),
}

# Terse requests that name no tool: (training, held-out) templates per tool.
TERSE_TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lab_results_lookup": (
        ("{test} on {patient}?", "{patient}, {test}?"),
        ("{test} for {patient}, thx.",),
    ),
    "vitals_lookup": (
        ("{vital} on {patient}?", "{patient}: {vital} pls"),
        ("{vital} for {patient} now?",),
    ),
    "bed_availability": (
        ("{ward}, any room?{for_patient}", "Space on {ward}?{for_patient}"),
        ("{ward} tonight?{for_patient}",),
    ),
    "imaging_order": (
        ("{modality} {body_part}, {patient}.", "{patient}: {modality} of {body_part}"),
        ("{modality} {body_part} for {patient} pls.",),
    ),
    "schedule_appointment": (
        ("{department} {date}, {patient}.", "{patient} to {department} {date}"),
        ("{department} on {date} for {patient}.",),
    ),
    "icd10_lookup": (
        ("{diagnosis}{for_patient}, code?", "Code: {diagnosis}{for_patient}"),
        ("{diagnosis}{for_patient} -> code",),
    ),
    "insurance_eligibility": (
        ("{procedure} ok for {member_id}?", "{member_id}: {procedure}?"),
        ("Is {procedure} fine for {member_id}?",),
    ),
}

MAX_CONVENTIONS = 6  # house phrases per hospital: few enough that each gets repeated use
MAX_PER_TOOL = 2
MIN_TOOL_EPISODES = 4
P_JARGON = 0.85  # a value with a house phrase is written with it this often
P_DIALECT_VALUE = 0.75  # an enum argument takes one of the house's phrased values this often


@dataclass(frozen=True)
class Dialect:
    """One hospital's house phrases (value -> phrase) and terse-request share."""

    phrases: dict[str, str] = field(default_factory=dict)
    terse: float = 0.0


def assign_dialect(tool_counts: Sequence[tuple[ToolSpec, int]], rng: random.Random) -> Dialect:
    """One hospital's dialect over the enum values of the tools it uses most (non-IID).

    Values come from tools with at least :data:`MIN_TOOL_EPISODES` episodes,
    busiest first, up to :data:`MAX_CONVENTIONS`, each with one of its house
    phrases: so two hospitals may say the same thing in different words, or
    only one of them has a word for it.
    """
    values: list[str] = []
    for spec, _count in sorted(tool_counts, key=lambda tc: -tc[1]):
        if _count < MIN_TOOL_EPISODES:
            continue
        choices = sorted(
            {
                c
                for a in spec.args
                if a.type == "enum"
                for c in a.choices
                if c in JARGON and c not in values
            }
        )
        rng.shuffle(choices)
        values += choices[:MAX_PER_TOOL]
    chosen = sorted(values[:MAX_CONVENTIONS])
    return Dialect(
        {value: rng.choice(JARGON[value]) for value in chosen}, terse=rng.choice((0.2, 0.35, 0.5))
    )


def dialect_value(spec_choices: Sequence[str], dialect: Dialect, rng: random.Random) -> str | None:
    """One of the house's phrased values among ``spec_choices`` (often), else ``None``."""
    phrased = [c for c in spec_choices if c in dialect.phrases]
    if phrased and rng.random() < P_DIALECT_VALUE:
        return rng.choice(phrased)
    return None


def house_words(dialect: Dialect, rng: random.Random) -> dict[str, str]:
    """The phrases one request uses (each house phrase with probability :data:`P_JARGON`)."""
    return {v: p for v, p in dialect.phrases.items() if rng.random() < P_JARGON}


def template_for(
    tool: str, dialect: Dialect, standard: Sequence[str], held_out: bool, rng: random.Random
) -> str:
    """A terse template (share ``dialect.terse``) or one of the ``standard`` ones."""
    if tool in TERSE_TEMPLATES and rng.random() < dialect.terse:
        return rng.choice(TERSE_TEMPLATES[tool][1 if held_out else 0])
    return rng.choice(list(standard))
