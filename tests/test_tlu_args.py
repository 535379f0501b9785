"""Argument filling from request text, within the catalogue schema."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from fical_secure.data.catalogue import CATALOGUE, tool_by_name
from fical_secure.data.conventions import JARGON
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import ArgSpec, ArgValue, ToolSpec
from fical_secure.data.vocab import value_surfaces
from fical_secure.tlu.args import fill_arguments


@pytest.mark.parametrize(
    ("tool", "request_text", "expected"),
    [
        (
            "lab_results_lookup",
            "Latest complete blood count for Ann Lee (MRN-0042137), DOB 03/05/1980?",
            {"mrn": "MRN-0042137", "test": "CBC"},
        ),
        (
            "schedule_appointment",
            "Book MRN-0042137, born March 5, 1980, into neurology on 12 Apr 2026.",
            {"mrn": "MRN-0042137", "department": "neurology", "date": "2026-04-12"},
        ),
        (
            "schedule_appointment",
            "Neurology visit for MRN-0042137 on 04/12/2026. She was born 1980-03-05.",
            {"mrn": "MRN-0042137", "department": "neurology", "date": "2026-04-12"},
        ),
        (
            "drug_interaction_check",
            "Is clopidogrel safe with omeprazole?",
            {"drug_a": "clopidogrel", "drug_b": "omeprazole"},
        ),
        (
            "dosage_calculator",
            "Weight is 72.5 kg; planning amoxicillin at 25 mg per kg. Call (555) 123-4567.",
            {"drug": "amoxicillin", "weight_kg": 72.5, "dose_mg_per_kg": 25.0},
        ),
        (
            "bmi_calculator",
            "BMI please, 168 cm tall and 61 kg. Lives at 12 Oak St.",
            {"weight_kg": 61.0, "height_cm": 168.0},
        ),
        (
            "egfr_calculator",
            "eGFR please, Cr 0.9, 54yo man.",
            {"creatinine_mg_dl": 0.9, "age": 54, "sex": "male"},
        ),
        (
            "egfr_calculator",
            "CKD-EPI for female, 67, creatinine 1.2 mg/dL.",
            {"creatinine_mg_dl": 1.2, "age": 67, "sex": "female"},
        ),
        (
            "glucose_converter",
            "Convert to mg/dL please: the meter read 7.2 mmol/L.",
            {"value": 7.2, "from_unit": "mmol_l"},
        ),
        (
            "insurance_eligibility",
            "Is ABC123456789 covered for CPT 99213? Plan ID on file XYZ987654321.",
            {"member_id": "ABC123456789", "procedure": "99213"},
        ),
        (
            "refill_prescription",
            "Renew metformin for MRN-1234567, a 90-day fill.",
            {"mrn": "MRN-1234567", "drug": "metformin", "days_supply": 90},
        ),
        (
            "vitals_lookup",
            "Current oxygen saturation for MRN-1234567?",
            {"mrn": "MRN-1234567", "vital": "spo2"},
        ),
        (
            "imaging_order",
            "Set up knee imaging by X-ray for MRN-1234567.",
            {"mrn": "MRN-1234567", "modality": "xray", "body_part": "knee"},
        ),
        ("bed_availability", "Any beds in intensive care?", {"ward": "icu"}),
        (
            "icd10_lookup",
            "Code osteoarthritis of knee please.",
            {"diagnosis": "osteoarthritis of knee"},
        ),
    ],
)
def test_arguments_are_recovered_from_request(
    tool: str, request_text: str, expected: dict[str, ArgValue]
) -> None:
    fill = fill_arguments(request_text, tool_by_name(tool), aliases=ALIASES)
    assert fill.complete
    assert fill.arguments == expected


# what a compendium teaches: words the tool docs do not contain
ALIASES = {
    "complete blood count": "CBC",
    "man": "male",
    "oxygen saturation": "spo2",
    "intensive care": "icu",
}


@pytest.mark.parametrize("phrase", sorted(ALIASES))
def test_jargon_is_not_understood_without_the_alias(phrase: str) -> None:
    spec = next(s for s in CATALOGUE if any(ALIASES[phrase] in a.choices for a in s.args))
    arg = next(a.name for a in spec.args if ALIASES[phrase] in a.choices)
    assert arg not in fill_arguments(f"Please: {phrase} now.", spec).arguments
    assert (
        fill_arguments(f"Please: {phrase} now.", spec, aliases=ALIASES).arguments[arg]
        == (ALIASES[phrase])
    )


@pytest.mark.parametrize(
    ("tool", "request_text", "missing"),
    [
        ("lab_results_lookup", "Latest CBC for Ann Lee?", ("mrn",)),
        ("schedule_appointment", "Book MRN-0042137 into neurology. DOB 03/05/1980.", ("date",)),
        ("bmi_calculator", "What is the BMI of a tall man?", ("weight_kg", "height_cm")),
        ("vitals_lookup", "Vitals for MRN-0042137 please.", ("vital",)),
    ],
)
def test_absent_arguments_are_reported_missing(
    tool: str, request_text: str, missing: tuple[str, ...]
) -> None:
    fill = fill_arguments(request_text, tool_by_name(tool))
    assert fill.missing == missing
    assert not fill.complete


def test_unsettled_enum_goes_to_chooser_and_invalid_choice_is_ignored() -> None:
    asked: list[str] = []

    def chooser(request: str, spec: ToolSpec, arg: ArgSpec, choices: Sequence[str]) -> str:
        asked.append(arg.name)
        return "heart_rate"

    fill = fill_arguments(
        "Vitals for MRN-0042137 please.", tool_by_name("vitals_lookup"), chooser=chooser
    )
    assert asked == ["vital"] and fill.arguments["vital"] == "heart_rate"
    fill = fill_arguments(
        "Vitals for MRN-0042137 please.",
        tool_by_name("vitals_lookup"),
        chooser=lambda *_: "not-a-vital",
    )
    assert fill.missing == ("vital",)


# every house phrase of the generator: with all of it, every gold call is recoverable
HOUSE = {phrase.lower(): value for value, phrases in JARGON.items() for phrase in phrases}


def test_generator_gold_arguments_are_recovered_for_every_request() -> None:
    fed = generate_federation(n_hospitals=5, seed=0)
    pairs = [(r.request, r.gold) for r in fed.eval_requests]
    pairs += [(e.request, e.call) for h in fed.hospitals for e in h.members]
    wrong = [
        (text, gold.arguments)
        for text, gold in pairs
        if fill_arguments(text, tool_by_name(gold.tool), aliases=HOUSE).arguments != gold.arguments
    ]
    assert wrong == []


def test_docs_alone_miss_the_house_jargon() -> None:
    fed = generate_federation(n_hospitals=5, seed=0)
    jargon = [  # a gold value written only in a house phrase, never in standard words
        r
        for r in fed.eval_requests
        if any(
            phrase.lower() in r.request.lower()
            and not any(w in r.request.lower() for w in value_surfaces(name, str(value)))
            for name, value in r.gold.arguments.items()
            for phrase in JARGON.get(str(value), ())
        )
    ]
    recovered = [
        fill_arguments(r.request, tool_by_name(r.gold.tool)).arguments == r.gold.arguments
        for r in jargon
    ]
    assert jargon and not any(recovered)
