"""The shared catalogue of clinical tools that agents learn to use.

Each hospital sees a non-IID subset. Enumerations keep arguments checkable, and
id-like arguments carry a pattern so a call can be validated without a database.
"""

from __future__ import annotations

from fical_secure.data.schema import ArgSpec, ToolSpec

MRN_PATTERN = r"^MRN-\d{7}$"
LAB_TESTS = ("CBC", "BMP", "HbA1c", "lipid_panel", "TSH", "INR", "troponin")
DEPARTMENTS = ("cardiology", "oncology", "neurology", "orthopedics", "dermatology", "endocrinology")
DRUGS = (
    "warfarin",
    "aspirin",
    "metformin",
    "lisinopril",
    "atorvastatin",
    "amoxicillin",
    "ibuprofen",
    "omeprazole",
    "sertraline",
    "clopidogrel",
    "simvastatin",
    "levothyroxine",
)
VITALS = ("blood_pressure", "heart_rate", "temperature", "spo2", "respiratory_rate")
WARDS = ("icu", "cardiac", "maternity", "pediatrics", "surgical", "general")
MODALITIES = ("xray", "ct", "mri", "ultrasound")
BODY_PARTS = ("chest", "head", "abdomen", "knee", "spine", "shoulder")
DIAGNOSES = (
    "type 2 diabetes",
    "essential hypertension",
    "asthma",
    "migraine",
    "pneumonia",
    "atrial fibrillation",
    "hypothyroidism",
    "major depressive disorder",
    "osteoarthritis of knee",
    "acute bronchitis",
    "urinary tract infection",
    "gastroesophageal reflux disease",
)
PROCEDURES = ("99213", "93000", "71046", "80053", "36415", "97110")
SEXES = ("female", "male")
UNITS = ("mg_dl", "mmol_l")

CATALOGUE: tuple[ToolSpec, ...] = (
    ToolSpec(
        "lab_results_lookup",
        "Fetch the latest result of a laboratory test for a patient by medical record number.",
        (
            ArgSpec("mrn", "str", "medical record number", pattern=MRN_PATTERN),
            ArgSpec("test", "enum", "laboratory test", choices=LAB_TESTS),
        ),
        "test value with unit and reference range",
    ),
    ToolSpec(
        "schedule_appointment",
        "Book an outpatient appointment for a patient in a department on a date.",
        (
            ArgSpec("mrn", "str", "medical record number", pattern=MRN_PATTERN),
            ArgSpec("department", "enum", "clinic department", choices=DEPARTMENTS),
            ArgSpec("date", "date", "appointment date, YYYY-MM-DD"),
        ),
        "confirmation id and time slot",
    ),
    ToolSpec(
        "drug_interaction_check",
        "Check whether two drugs interact and how severe the interaction is.",
        (
            ArgSpec("drug_a", "enum", "first drug (generic name)", choices=DRUGS),
            ArgSpec("drug_b", "enum", "second drug (generic name)", choices=DRUGS),
        ),
        "interaction severity and advice",
    ),
    ToolSpec(
        "icd10_lookup",
        "Find the ICD-10 diagnosis code for a diagnosis described in words.",
        (ArgSpec("diagnosis", "enum", "diagnosis in plain words", choices=DIAGNOSES),),
        "ICD-10 code and title",
    ),
    ToolSpec(
        "dosage_calculator",
        "Compute a weight-based dose of a drug in milligrams.",
        (
            ArgSpec("drug", "enum", "drug (generic name)", choices=DRUGS),
            ArgSpec(
                "weight_kg", "float", "patient weight in kilograms", minimum=0.3, maximum=400.0
            ),
            ArgSpec(
                "dose_mg_per_kg",
                "float",
                "dose per kilogram in milligrams",
                minimum=0.001,
                maximum=100.0,
            ),
        ),
        "total dose in mg",
    ),
    ToolSpec(
        "bmi_calculator",
        "Compute body-mass index from weight and height.",
        (
            ArgSpec("weight_kg", "float", "weight in kilograms", minimum=0.3, maximum=400.0),
            ArgSpec("height_cm", "float", "height in centimetres", minimum=30.0, maximum=260.0),
        ),
        "BMI and category",
    ),
    ToolSpec(
        "vitals_lookup",
        "Read a patient's most recent vital sign measurement.",
        (
            ArgSpec("mrn", "str", "medical record number", pattern=MRN_PATTERN),
            ArgSpec("vital", "enum", "vital sign", choices=VITALS),
        ),
        "measurement with time",
    ),
    ToolSpec(
        "allergy_check",
        "Check a patient's recorded allergies against a drug before prescribing.",
        (
            ArgSpec("mrn", "str", "medical record number", pattern=MRN_PATTERN),
            ArgSpec("drug", "enum", "drug to check", choices=DRUGS),
        ),
        "allergy status",
    ),
    ToolSpec(
        "bed_availability",
        "Count free beds on a hospital ward.",
        (ArgSpec("ward", "enum", "ward", choices=WARDS),),
        "number of free beds",
    ),
    ToolSpec(
        "insurance_eligibility",
        "Verify that a health-plan member is covered for a procedure (CPT code).",
        (
            ArgSpec("member_id", "str", "health-plan member id", pattern=r"^[A-Z]{3}\d{9}$"),
            ArgSpec("procedure", "enum", "CPT procedure code", choices=PROCEDURES),
        ),
        "coverage status and copay",
    ),
    ToolSpec(
        "refill_prescription",
        "Send a prescription refill for a patient to the pharmacy.",
        (
            ArgSpec("mrn", "str", "medical record number", pattern=MRN_PATTERN),
            ArgSpec("drug", "enum", "drug to refill", choices=DRUGS),
            ArgSpec(
                "days_supply", "int", "days of supply (30, 60 or 90)", choices=("30", "60", "90")
            ),
        ),
        "refill confirmation",
    ),
    ToolSpec(
        "egfr_calculator",
        "Estimate kidney function (eGFR, CKD-EPI 2021) from serum creatinine, age and sex.",
        (
            ArgSpec(
                "creatinine_mg_dl", "float", "serum creatinine in mg/dL", minimum=0.1, maximum=25.0
            ),
            # CKD-EPI 2021 is validated for adults only
            ArgSpec("age", "int", "age in years", minimum=18, maximum=120),
            ArgSpec("sex", "enum", "sex", choices=SEXES),
        ),
        "eGFR in mL/min/1.73m2 and CKD stage",
    ),
    ToolSpec(
        "imaging_order",
        "Order an imaging study for a patient.",
        (
            ArgSpec("mrn", "str", "medical record number", pattern=MRN_PATTERN),
            ArgSpec("modality", "enum", "imaging modality", choices=MODALITIES),
            ArgSpec("body_part", "enum", "body part", choices=BODY_PARTS),
        ),
        "order id",
    ),
    ToolSpec(
        "glucose_converter",
        "Convert a blood glucose value between mg/dL and mmol/L.",
        (
            ArgSpec("value", "float", "glucose value"),
            ArgSpec("from_unit", "enum", "unit of the value", choices=UNITS),
        ),
        "converted value",
    ),
)

TOOL_NAMES: tuple[str, ...] = tuple(t.name for t in CATALOGUE)


def tool_by_name(name: str) -> ToolSpec:
    """Return the catalogue entry named ``name``; ``KeyError`` if there is none."""
    for spec in CATALOGUE:
        if spec.name == name:
            return spec
    raise KeyError(name)
