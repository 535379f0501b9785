"""The simulated tool environment: deterministic results, correct calculators, strict refusal."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fical_secure.data.results import simulate_result
from fical_secure.data.schema import ArgValue, ToolCall
from fical_secure.errors import ToolExecutionError

LAB = ToolCall("lab_results_lookup", {"mrn": "MRN-0042137", "test": "HbA1c"})


@pytest.mark.process
def test_same_call_gives_same_result_across_processes() -> None:
    script = (
        "from fical_secure.data.results import simulate_result;"
        "from fical_secure.data.schema import ToolCall;"
        "print(simulate_result(ToolCall('lab_results_lookup',"
        " {'mrn': 'MRN-0042137', 'test': 'HbA1c'})))"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONHASHSEED": "123"},
    )
    assert other.stdout.strip() == simulate_result(LAB)
    assert simulate_result(LAB) == simulate_result(ToolCall(LAB.tool, dict(LAB.arguments)))


def test_different_patients_get_different_lookups() -> None:
    results = {
        simulate_result(ToolCall("lab_results_lookup", {"mrn": f"MRN-000000{i}", "test": "INR"}))
        for i in range(8)
    }
    assert len(results) == 8


def test_integer_and_float_arguments_give_the_same_result() -> None:
    as_int = ToolCall("bmi_calculator", {"weight_kg": 70, "height_cm": 175})
    as_float = ToolCall("bmi_calculator", {"weight_kg": 70.0, "height_cm": 175.0})
    assert simulate_result(as_int) == simulate_result(as_float)


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        (
            "bmi_calculator",
            {"weight_kg": 70.0, "height_cm": 175.0},
            "BMI 22.9 kg/m2 (normal weight)",
        ),
        ("bmi_calculator", {"weight_kg": 120.0, "height_cm": 170.0}, "BMI 41.5 kg/m2 (obese)"),
        # CKD-EPI 2021: 50-year-old male, creatinine 1.0 mg/dL -> 92 (NKF calculator)
        ("egfr_calculator", {"creatinine_mg_dl": 1.0, "age": 50, "sex": "male"}, "eGFR 92 "),
        (
            "egfr_calculator",
            {"creatinine_mg_dl": 2.5, "age": 70, "sex": "female"},
            "eGFR 20 mL/min/1.73m2 (CKD-EPI 2021), stage G4",
        ),
        ("glucose_converter", {"value": 180.0, "from_unit": "mg_dl"}, "= 10.0 mmol/L"),
        ("glucose_converter", {"value": 5.5, "from_unit": "mmol_l"}, "= 99 mg/dL"),
        ("icd10_lookup", {"diagnosis": "asthma"}, "J45.909"),
        ("icd10_lookup", {"diagnosis": "essential hypertension"}, "I10"),
        (
            "dosage_calculator",
            {"drug": "amoxicillin", "weight_kg": 20.0, "dose_mg_per_kg": 25.0},
            "= 500 mg.",
        ),
        ("drug_interaction_check", {"drug_a": "warfarin", "drug_b": "aspirin"}, "Major"),
        ("drug_interaction_check", {"drug_a": "aspirin", "drug_b": "warfarin"}, "Major"),
        (
            "drug_interaction_check",
            {"drug_a": "metformin", "drug_b": "lisinopril"},
            "No clinically significant",
        ),
        (
            "refill_prescription",
            {"mrn": "MRN-1234567", "drug": "metformin", "days_supply": 90},
            "90-day supply",
        ),
        (
            "insurance_eligibility",
            {"member_id": "ABC123456789", "procedure": "93000"},
            "Member ABC123456789, CPT 93000 (electrocardiogram)",
        ),
    ],
)
def test_calculators_and_lookups_return_known_values(
    tool: str, arguments: dict[str, ArgValue], expected: str
) -> None:
    assert expected in simulate_result(ToolCall(tool, arguments))


def test_overdose_is_flagged() -> None:
    call = ToolCall(
        "dosage_calculator", {"drug": "warfarin", "weight_kg": 80.0, "dose_mg_per_kg": 1.0}
    )
    assert "Warning: above the usual maximum" in simulate_result(call)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (ToolCall("teleport_patient", {"mrn": "MRN-1234567"}), "unknown tool 'teleport_patient'"),
        (ToolCall("lab_results_lookup", {"mrn": "MRN-1234567"}), "missing argument 'test'"),
        (ToolCall("bed_availability", {"ward": "icu", "floor": 3}), "unexpected argument 'floor'"),
        (
            ToolCall("lab_results_lookup", {"mrn": "MRN-1234567", "test": "vitamin D"}),
            "'test' must be one of",
        ),
        (ToolCall("lab_results_lookup", {"mrn": "MRN-123", "test": "CBC"}), "'mrn' does not match"),
        (
            ToolCall("lab_results_lookup", {"mrn": "MRN-1234567\n", "test": "CBC"}),
            "'mrn' does not match",
        ),
        (ToolCall("vitals_lookup", {"mrn": 1234567, "vital": "spo2"}), "'mrn' must be a string"),
        (
            ToolCall(
                "schedule_appointment",
                {"mrn": "MRN-1234567", "department": "oncology", "date": "2025-02-30"},
            ),
            "'date' must be a date",
        ),
        (
            ToolCall(
                "schedule_appointment",
                {"mrn": "MRN-1234567", "department": "oncology", "date": "03/14/2025"},
            ),
            "'date' must be a date",
        ),
        (
            ToolCall(
                "refill_prescription", {"mrn": "MRN-1234567", "drug": "aspirin", "days_supply": 45}
            ),
            "'days_supply' must be one of",
        ),
        (
            ToolCall(
                "refill_prescription",
                {"mrn": "MRN-1234567", "drug": "aspirin", "days_supply": 30.0},
            ),
            "'days_supply' must be an integer",
        ),
        (
            ToolCall("egfr_calculator", {"creatinine_mg_dl": 1.0, "age": True, "sex": "male"}),
            "'age' must be an integer",
        ),
        (
            ToolCall("egfr_calculator", {"creatinine_mg_dl": 1.0, "age": 9, "sex": "male"}),
            "'age' must lie between",
        ),
        (
            ToolCall("bmi_calculator", {"weight_kg": -70.0, "height_cm": 175.0}),
            "'weight_kg' must lie between",
        ),
        (
            ToolCall("bmi_calculator", {"weight_kg": float("nan"), "height_cm": 175.0}),
            "'weight_kg' must be finite",
        ),
        (
            ToolCall("bmi_calculator", {"weight_kg": "70", "height_cm": 175.0}),
            "'weight_kg' must be a number",
        ),
        (
            ToolCall("drug_interaction_check", {"drug_a": "aspirin", "drug_b": "aspirin"}),
            "must differ",
        ),
        (
            ToolCall("glucose_converter", {"value": 400.0, "from_unit": "mmol_l"}),
            "value in mmol_l must lie between",
        ),
        (
            ToolCall("insurance_eligibility", {"member_id": "ab123456789", "procedure": "99213"}),
            "'member_id' does not match",
        ),
    ],
)
def test_invalid_calls_are_rejected_with_the_problem_named(call: ToolCall, fragment: str) -> None:
    with pytest.raises(ToolExecutionError) as caught:
        simulate_result(call)
    assert fragment in str(caught.value)


def test_rejection_lists_every_problem_of_a_call() -> None:
    call = ToolCall(
        "imaging_order", {"mrn": "123", "modality": "pet", "body_part": "chest", "urgent": True}
    )
    with pytest.raises(ToolExecutionError) as caught:
        simulate_result(call)
    message = str(caught.value)
    for fragment in ("'mrn' does not match", "'modality' must be one of", "'urgent'"):
        assert fragment in message
