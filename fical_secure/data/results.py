"""The simulated tool environment: a tool's result text as a function of the call.

:func:`simulate_result` is deterministic: values that a real system would
look up (a lab value, a free-bed count) are drawn from a generator seeded
with a SHA-256 hash of the call's canonical text, so the same call always
returns the same text, in any process. Calculators compute their results
(BMI, CKD-EPI 2021 eGFR, glucose units, weight-based doses). Results echo the
call's identifiers (MRN, member id) as a hospital system would, and carry no
other personal data.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.reference import (
    ALLERGY_REACTIONS,
    CPT_NAMES,
    ICD10,
    INTERACTIONS,
    LAB_PANELS,
    MAX_SINGLE_DOSE_MG,
    MG_DL_PER_MMOL_L,
    VITAL_SIGNS,
    WARD_CAPACITY,
    Analyte,
)
from fical_secure.data.schema import ArgValue, ToolCall, ToolSpec
from fical_secure.data.validation import call_problems, find_tool
from fical_secure.data.vocab import enum_words, number_words
from fical_secure.errors import ToolExecutionError

Args = Mapping[str, ArgValue]


def _normalized(call: ToolCall, catalogue: Sequence[ToolSpec]) -> ToolCall:
    """The call with float-typed arguments as floats, so ``72`` and ``72.0`` agree."""
    spec = find_tool(call.tool, catalogue)
    assert spec is not None  # validated before
    args = {
        name: _as_float(value) if spec.arg(name).type == "float" else value
        for name, value in call.arguments.items()
    }
    return ToolCall(call.tool, args)


def _as_float(value: ArgValue) -> ArgValue:
    """An integer as a float; any other value as it is."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _num(args: Args, name: str) -> float:
    """A numeric argument of a validated built-in call."""
    value = args[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolExecutionError(f"argument {name!r} must be a number")
    return float(value)


def _rng_for(call: ToolCall) -> random.Random:
    digest = hashlib.sha256(call.render().encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def _reference_id(prefix: str, rng: random.Random) -> str:
    return f"{prefix}-{rng.getrandbits(24):06X}"


def _measure(analyte: Analyte, rng: random.Random) -> str:
    value = round(rng.uniform(analyte.draw_low, analyte.draw_high), analyte.decimals)
    flag = " (H)" if value > analyte.ref_high else " (L)" if value < analyte.ref_low else ""
    shown = f"{value:.{analyte.decimals}f}"
    unit = f" {analyte.unit}" if analyte.unit else ""
    ref = f"{analyte.ref_low:g}-{analyte.ref_high:g}"
    return f"{analyte.name} {shown}{unit}{flag}, ref {ref}"


def _lab(args: Args, rng: random.Random) -> str:
    panel = "; ".join(_measure(a, rng) for a in LAB_PANELS[str(args["test"])])
    hours = rng.randint(1, 72)
    test = enum_words("test", str(args["test"]))
    return f"{args['mrn']} {test}, resulted {hours} h ago: {panel}."


def _vitals(args: Args, rng: random.Random) -> str:
    vital = str(args["vital"])
    minutes = rng.randint(5, 240)
    if vital == "blood_pressure":
        reading = f"blood pressure {rng.randint(96, 178)}/{rng.randint(56, 102)} mmHg"
    else:
        reading = _measure(VITAL_SIGNS[vital], rng)
    return f"{args['mrn']}: {reading}, charted {minutes} min ago."


def _appointment(args: Args, rng: random.Random) -> str:
    slot = f"{rng.randint(8, 16):02d}:{rng.choice(('00', '15', '30', '45'))}"
    ref = _reference_id("APT", rng)
    return (
        f"Booked {args['mrn']} in {args['department']} clinic on {args['date']} at {slot}, "
        f"confirmation {ref}."
    )


def _interaction(args: Args, _rng: random.Random) -> str:
    a, b = str(args["drug_a"]), str(args["drug_b"])
    found = INTERACTIONS.get(frozenset((a, b)))
    if found is None:
        return f"No clinically significant interaction between {a} and {b}."
    severity, advice = found
    return f"{severity.capitalize()} interaction between {a} and {b}: {advice}."


def _icd10(args: Args, _rng: random.Random) -> str:
    code, title = ICD10[str(args["diagnosis"])]
    return f"ICD-10-CM {code}: {title}."


def _dosage(args: Args, _rng: random.Random) -> str:
    drug = str(args["drug"])
    total = round(_num(args, "weight_kg") * _num(args, "dose_mg_per_kg"), 1)
    text = (
        f"{drug} {number_words(args['dose_mg_per_kg'])} mg/kg x "
        f"{number_words(args['weight_kg'])} kg = {total:g} mg."
    )
    if total > MAX_SINGLE_DOSE_MG[drug]:
        text += f" Warning: above the usual maximum single dose of {MAX_SINGLE_DOSE_MG[drug]:g} mg."
    return text


def _bmi(args: Args, _rng: random.Random) -> str:
    metres = _num(args, "height_cm") / 100.0
    bmi = round(_num(args, "weight_kg") / (metres * metres), 1)
    bands = ((18.5, "underweight"), (25.0, "normal weight"), (30.0, "overweight"))
    category = next((name for limit, name in bands if bmi < limit), "obese")
    return f"BMI {bmi:.1f} kg/m2 ({category})."


def _allergy(args: Args, rng: random.Random) -> str:
    drug = str(args["drug"])
    if rng.random() < 0.15:
        return f"{args['mrn']}: ALLERGY to {drug} on file ({rng.choice(ALLERGY_REACTIONS)})."
    return f"{args['mrn']}: no documented allergy to {drug}."


def _beds(args: Args, rng: random.Random) -> str:
    ward = str(args["ward"])
    capacity = WARD_CAPACITY[ward]
    free = rng.randint(0, capacity // 3)
    return f"{enum_words('ward', ward)} ward: {free} of {capacity} beds free."


def _eligibility(args: Args, rng: random.Random) -> str:
    procedure = str(args["procedure"])
    head = f"Member {args['member_id']}, CPT {procedure} ({CPT_NAMES[procedure]})"
    if rng.random() < 0.15:
        return f"{head}: coverage inactive, refer to billing."
    auth = "prior authorization required" if rng.random() < 0.3 else "no prior authorization"
    return f"{head}: covered, copay ${rng.choice((0, 10, 20, 25, 40, 50))}, {auth}."


def _refill(args: Args, rng: random.Random) -> str:
    ref = _reference_id("RX", rng)
    return (
        f"Refill sent for {args['mrn']}: {args['drug']}, {args['days_supply']}-day supply, "
        f"confirmation {ref}."
    )


def _egfr(args: Args, _rng: random.Random) -> str:
    female = args["sex"] == "female"
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = _num(args, "creatinine_mg_dl") / kappa
    egfr = 142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200
    egfr *= 0.9938 ** _num(args, "age") * (1.012 if female else 1.0)
    stages = ((90, "G1"), (60, "G2"), (45, "G3a"), (30, "G3b"), (15, "G4"))
    stage = next((name for limit, name in stages if egfr >= limit), "G5")
    return f"eGFR {egfr:.0f} mL/min/1.73m2 (CKD-EPI 2021), stage {stage}."


def _imaging(args: Args, rng: random.Random) -> str:
    ref = _reference_id("IMG", rng)
    modality = enum_words("modality", str(args["modality"]))
    return f"Order {ref} placed for {args['mrn']}: {modality} {args['body_part']}, scheduled."


def _glucose(args: Args, _rng: random.Random) -> str:
    value = _num(args, "value")
    if args["from_unit"] == "mg_dl":
        return f"{value:g} mg/dL = {value / MG_DL_PER_MMOL_L:.1f} mmol/L."
    return f"{value:g} mmol/L = {value * MG_DL_PER_MMOL_L:.0f} mg/dL."


_SIMULATORS: dict[str, Callable[[Args, random.Random], str]] = {
    "lab_results_lookup": _lab,
    "schedule_appointment": _appointment,
    "drug_interaction_check": _interaction,
    "icd10_lookup": _icd10,
    "dosage_calculator": _dosage,
    "bmi_calculator": _bmi,
    "vitals_lookup": _vitals,
    "allergy_check": _allergy,
    "bed_availability": _beds,
    "insurance_eligibility": _eligibility,
    "refill_prescription": _refill,
    "egfr_calculator": _egfr,
    "imaging_order": _imaging,
    "glucose_converter": _glucose,
}
assert set(_SIMULATORS) == {spec.name for spec in CATALOGUE}


def simulate_result(call: ToolCall, catalogue: Sequence[ToolSpec] = CATALOGUE) -> str:
    """Run ``call`` against the simulated systems of ``catalogue`` and return the result text.

    Built-in clinical tools compute or look up their results; a tool of any
    other catalogue answers with a deterministic reference id and the
    arguments it was called with (a stand-in that still refuses invalid calls).

    Raises:
        ToolExecutionError: the call is invalid under the catalogue (unknown
            tool, missing or unexpected argument, wrong type, value out of its
            enum, pattern or allowed range); the message lists every problem.
    """
    problems = call_problems(call, catalogue)
    if problems:
        raise ToolExecutionError(
            f"tool call {call.tool}(...) rejected: "
            + "; ".join(problems)
            + ". Fix the arguments to match the tool's specification."
        )
    call = _normalized(call, catalogue)
    if find_tool(call.tool, CATALOGUE) == find_tool(call.tool, catalogue):
        return _SIMULATORS[call.tool](call.arguments, _rng_for(call))
    return f"{call.tool} done, reference {_reference_id('REF', _rng_for(call))}: {call.render()}"
