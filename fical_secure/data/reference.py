"""Clinical reference tables behind the simulated tools.

Plausible values, not medical advice: ICD-10-CM codes for the catalogue's
diagnoses, well-known drug-drug interactions among its drugs, and reference
ranges for its laboratory tests and vital signs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Analyte:
    """One measured quantity: display name, unit, reference range, plausible draw range."""

    name: str
    unit: str
    ref_low: float
    ref_high: float
    draw_low: float
    draw_high: float
    decimals: int


LAB_PANELS: dict[str, tuple[Analyte, ...]] = {
    "CBC": (
        Analyte("WBC", "x10^9/L", 4.0, 11.0, 2.5, 18.0, 1),
        Analyte("hemoglobin", "g/dL", 12.0, 17.5, 7.5, 18.0, 1),
        Analyte("platelets", "x10^9/L", 150, 400, 60, 520, 0),
    ),
    "BMP": (
        Analyte("sodium", "mmol/L", 135, 145, 126, 150, 0),
        Analyte("potassium", "mmol/L", 3.5, 5.1, 2.9, 6.2, 1),
        Analyte("creatinine", "mg/dL", 0.6, 1.3, 0.5, 3.8, 2),
        Analyte("glucose", "mg/dL", 70, 99, 60, 320, 0),
    ),
    "HbA1c": (Analyte("HbA1c", "%", 4.0, 5.6, 4.6, 12.5, 1),),
    "lipid_panel": (
        Analyte("total cholesterol", "mg/dL", 100, 199, 120, 310, 0),
        Analyte("LDL", "mg/dL", 0, 99, 50, 210, 0),
        Analyte("HDL", "mg/dL", 40, 90, 25, 95, 0),
        Analyte("triglycerides", "mg/dL", 0, 149, 60, 480, 0),
    ),
    "TSH": (Analyte("TSH", "mIU/L", 0.4, 4.0, 0.05, 12.0, 2),),
    "INR": (Analyte("INR", "", 0.8, 1.2, 0.9, 4.5, 1),),
    "troponin": (Analyte("hs-troponin T", "ng/L", 0, 14, 3, 160, 0),),
}

VITAL_SIGNS: dict[str, Analyte] = {
    "heart_rate": Analyte("heart rate", "bpm", 60, 100, 48, 132, 0),
    "temperature": Analyte("temperature", "°C", 36.1, 37.8, 35.8, 39.6, 1),
    "spo2": Analyte("SpO2", "%", 95, 100, 86, 100, 0),
    "respiratory_rate": Analyte("respiratory rate", "/min", 12, 20, 10, 30, 0),
}

ICD10: dict[str, tuple[str, str]] = {
    "type 2 diabetes": ("E11.9", "Type 2 diabetes mellitus without complications"),
    "essential hypertension": ("I10", "Essential (primary) hypertension"),
    "asthma": ("J45.909", "Unspecified asthma, uncomplicated"),
    "migraine": ("G43.909", "Migraine, unspecified, not intractable, without status migrainosus"),
    "pneumonia": ("J18.9", "Pneumonia, unspecified organism"),
    "atrial fibrillation": ("I48.91", "Unspecified atrial fibrillation"),
    "hypothyroidism": ("E03.9", "Hypothyroidism, unspecified"),
    "major depressive disorder": (
        "F32.9",
        "Major depressive disorder, single episode, unspecified",
    ),
    "osteoarthritis of knee": ("M17.9", "Osteoarthritis of knee, unspecified"),
    "acute bronchitis": ("J20.9", "Acute bronchitis, unspecified"),
    "urinary tract infection": ("N39.0", "Urinary tract infection, site not specified"),
    "gastroesophageal reflux disease": (
        "K21.9",
        "Gastro-esophageal reflux disease without esophagitis",
    ),
}

# (drug, drug, severity, advice); looked up as unordered pairs.
_INTERACTION_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("warfarin", "aspirin", "major", "additive bleeding risk; avoid unless indicated"),
    ("warfarin", "ibuprofen", "major", "NSAID raises bleeding risk; avoid"),
    ("warfarin", "clopidogrel", "major", "additive bleeding risk; monitor closely"),
    ("warfarin", "sertraline", "moderate", "SSRI may raise bleeding risk; check INR"),
    ("warfarin", "amoxicillin", "moderate", "may raise INR; recheck INR in 3-5 days"),
    ("warfarin", "levothyroxine", "moderate", "may enhance anticoagulation; check INR"),
    ("warfarin", "simvastatin", "minor", "may slightly raise INR; monitor"),
    ("warfarin", "omeprazole", "minor", "may slightly raise INR; monitor"),
    ("aspirin", "ibuprofen", "moderate", "ibuprofen may blunt aspirin's antiplatelet effect"),
    ("aspirin", "clopidogrel", "moderate", "additive bleeding risk; confirm dual therapy"),
    ("aspirin", "sertraline", "moderate", "raised GI bleeding risk; consider a PPI"),
    ("clopidogrel", "omeprazole", "moderate", "less clopidogrel activation; prefer pantoprazole"),
    ("clopidogrel", "ibuprofen", "moderate", "raised bleeding risk; avoid regular use"),
    ("lisinopril", "ibuprofen", "moderate", "blunts blood-pressure control; kidney risk"),
    ("sertraline", "ibuprofen", "moderate", "raised GI bleeding risk"),
    ("simvastatin", "atorvastatin", "major", "duplicate statin therapy; do not combine"),
    ("levothyroxine", "omeprazole", "minor", "may reduce levothyroxine absorption"),
)
INTERACTIONS: dict[frozenset[str], tuple[str, str]] = {
    frozenset((a, b)): (severity, advice) for a, b, severity, advice in _INTERACTION_ROWS
}

# Usual maximum single dose in mg, for a warning in the dosage calculator.
MAX_SINGLE_DOSE_MG: dict[str, float] = {
    "warfarin": 10,
    "aspirin": 1000,
    "metformin": 1000,
    "lisinopril": 40,
    "atorvastatin": 80,
    "amoxicillin": 1000,
    "ibuprofen": 800,
    "omeprazole": 40,
    "sertraline": 200,
    "clopidogrel": 600,
    "simvastatin": 40,
    "levothyroxine": 0.3,
}

ALLERGY_REACTIONS: tuple[str, ...] = ("rash", "hives", "angioedema", "anaphylaxis", "GI upset")
WARD_CAPACITY: dict[str, int] = {
    "icu": 16,
    "cardiac": 24,
    "maternity": 20,
    "pediatrics": 18,
    "surgical": 30,
    "general": 40,
}
CPT_NAMES: dict[str, str] = {
    "99213": "established outpatient visit",
    "93000": "electrocardiogram",
    "71046": "chest X-ray, 2 views",
    "80053": "comprehensive metabolic panel",
    "36415": "venipuncture",
    "97110": "therapeutic exercise",
}
MG_DL_PER_MMOL_L = 18.016  # glucose
