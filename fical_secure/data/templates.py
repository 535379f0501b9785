"""Clinician-voice request templates: training paraphrases and held-out ones.

Each tool has ``train`` templates (used for member and non-member episodes)
and ``held_out`` templates (used only for evaluation requests), so retrieval
over training material cannot succeed by exact template match. Every template
names every argument of its tool, so the gold call is recoverable from the
request text.

Slots: ``{patient}`` a patient reference that always contains the MRN;
``{for_patient}`` an optional patient mention (may be empty) for tools that
take no MRN; ``{member_id}`` the insurance member id; one slot per other
argument (``{test}``, ``{drug}``, ``{weight}``...), plus ``{to_unit}`` for the
glucose converter. Pronoun slots (``{She}``, ``{her}``...) appear in clauses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ToolTemplates:
    """The paraphrases of one tool's request, split into training and held-out."""

    train: tuple[str, ...]
    held_out: tuple[str, ...]


REQUEST_TEMPLATES: dict[str, ToolTemplates] = {
    "lab_results_lookup": ToolTemplates(
        train=(
            "Pull the latest {test} for {patient}.",
            "Can you get me the most recent {test} result on {patient}?",
            "What was the last {test} for {patient}? Need it before rounds.",
            "Please look up {test} results for {patient}.",
            "Check the {test} on {patient}, I want to see if it came back.",
            "{patient}: latest {test} value?",
        ),
        held_out=(
            "Before I adjust the plan, what did the most recent {test} show for {patient}?",
            "Find the newest {test} value in the chart of {patient}.",
            "Has a {test} resulted yet for {patient}? Give me the number.",
        ),
    ),
    "schedule_appointment": ToolTemplates(
        train=(
            "Book {patient} into {department} clinic on {date}.",
            "Please schedule a follow-up in {department} for {patient} on {date}.",
            "Can we get {patient} seen in {department} on {date}?",
            "Set up an outpatient appointment in {department} on {date} for {patient}.",
            "{patient} needs to be seen in {department}, {date} works for the family.",
            "Schedule {patient} with {department} for {date}, first available slot that day.",
        ),
        held_out=(
            "Arrange a consult with {department} for {patient}; the date should be {date}.",
            "I want {patient} to have an appointment in {department} booked for {date}.",
            "Put {patient} on the {department} clinic list for {date}, thanks.",
        ),
    ),
    "drug_interaction_check": ToolTemplates(
        train=(
            "Is it safe to give {drug_a} with {drug_b}{for_patient}?",
            "Check for an interaction between {drug_a} and {drug_b}{for_patient}.",
            "If I add {drug_a} to {drug_b}{for_patient}, any interaction?",
            "{drug_a} plus {drug_b}{for_patient}: how bad is the interaction?",
            "Run an interaction check on {drug_a} and {drug_b}{for_patient}.",
            "Can {drug_a} and {drug_b} be co-prescribed{for_patient}?",
        ),
        held_out=(
            "Pharmacy flagged {drug_a} together with {drug_b}{for_patient}; how severe is that?",
            "What happens if {drug_a} and {drug_b} are taken together{for_patient}?",
            "Combining {drug_a} and {drug_b}{for_patient}, is there a significant interaction?",
        ),
    ),
    "icd10_lookup": ToolTemplates(
        train=(
            "What's the ICD-10 code for {diagnosis}{for_patient}?",
            "Need the diagnosis code for {diagnosis}{for_patient}.",
            "Look up ICD-10 for {diagnosis}{for_patient}, coding the visit now.",
            "Code {diagnosis}{for_patient} in ICD-10 please.",
            "Which ICD-10 code do I bill for {diagnosis}{for_patient}?",
            "ICD-10 lookup: {diagnosis}{for_patient}.",
        ),
        held_out=(
            "For the problem list{for_patient}, how is {diagnosis} coded?",
            "Give me the billing code that corresponds to {diagnosis}{for_patient}.",
            "Translate the diagnosis {diagnosis}{for_patient} into its ICD-10 code.",
        ),
    ),
    "dosage_calculator": ToolTemplates(
        train=(
            "Calculate {drug} at {dose} mg/kg, weight {weight} kg{for_patient}.",
            "What's the total {drug} dose for {weight} kg at {dose} mg/kg{for_patient}?",
            "Dose check: {drug} {dose} mg/kg, patient weighs {weight} kg{for_patient}.",
            "How many mg of {drug} is {dose} mg/kg at {weight} kg{for_patient}?",
            "Work out the weight-based {drug} dose, {dose} mg/kg and {weight} kg{for_patient}.",
            "Need a {drug} dose: {weight} kg, {dose} mg per kg{for_patient}.",
        ),
        held_out=(
            "Weight is {weight} kg{for_patient}; I'm planning {drug} at {dose} mg/kg. "
            "What total dose is that?",
            "Figure out the milligram amount of {drug} when dosing {dose} mg/kg "
            "for someone who is {weight} kg{for_patient}.",
            "Compute {drug} in mg: {dose} mg/kg times body weight {weight} kg{for_patient}.",
        ),
    ),
    "bmi_calculator": ToolTemplates(
        train=(
            "What's the BMI for {weight} kg and {height} cm{for_patient}?",
            "Calculate BMI: weight {weight} kg, height {height} cm{for_patient}.",
            "BMI please, {height} cm tall and {weight} kg{for_patient}.",
            "Compute body-mass index with {weight} kg and {height} cm{for_patient}.",
            "Can you get a BMI on {weight} kg / {height} cm{for_patient}?",
            "Need BMI and category for someone {height} cm, {weight} kg{for_patient}.",
        ),
        held_out=(
            "Height {height} cm and weight {weight} kg{for_patient}; "
            "where does that fall on the BMI scale?",
            "Is {weight} kg at {height} cm overweight{for_patient}? Give me the BMI.",
            "Work out the body mass index from a weight of {weight} kg "
            "and a height of {height} cm{for_patient}.",
        ),
    ),
    "vitals_lookup": ToolTemplates(
        train=(
            "What's the latest {vital} for {patient}?",
            "Pull the most recent {vital} reading on {patient}.",
            "Can you check {vital} for {patient}? Nurse mentioned a change.",
            "Last charted {vital} for {patient}, please.",
            "Show the newest {vital} for {patient}.",
            "{patient}: what was the last {vital}?",
        ),
        held_out=(
            "Tell me the current {vital} recorded for {patient}.",
            "I'm worried about {patient}; what did the monitor show for {vital} most recently?",
            "Read back the most up-to-date {vital} measurement in the flowsheet of {patient}.",
        ),
    ),
    "allergy_check": ToolTemplates(
        train=(
            "Any allergy to {drug} on file for {patient}?",
            "Check allergies for {patient} before I prescribe {drug}.",
            "Is {patient} allergic to {drug}?",
            "Before ordering {drug}, confirm {patient} has no documented allergy.",
            "Allergy check: {drug} for {patient}.",
            "Can I safely start {drug} for {patient}? Look at the allergy list.",
        ),
        held_out=(
            "Screen the allergy record of {patient} against {drug}.",
            "Does the chart for {patient} list any reaction to {drug}?",
            "Planning to give {drug} to {patient}; verify there is no recorded allergy first.",
        ),
    ),
    "bed_availability": ToolTemplates(
        train=(
            "How many {ward} beds are free right now{for_patient}?",
            "Any open beds on the {ward} ward{for_patient}?",
            "Check {ward} bed availability{for_patient}.",
            "Do we have any {ward} beds{for_patient}? ED is holding.",
            "Bed count for {ward}{for_patient}, please.",
            "Is there space on {ward}{for_patient}?",
        ),
        held_out=(
            "Admission coming{for_patient}: how many empty beds does the {ward} unit have?",
            "Tell me whether the {ward} unit can take a patient now{for_patient}.",
            "Find out the number of vacant {ward} beds{for_patient}.",
        ),
    ),
    "insurance_eligibility": ToolTemplates(
        train=(
            "Verify coverage for CPT {procedure}, member ID {member_id}{for_patient}.",
            "Is member {member_id} eligible for {procedure}{for_patient}?",
            "Check insurance for {procedure} on member {member_id}{for_patient}.",
            "Can you run eligibility on {member_id} for CPT {procedure}{for_patient}?",
            "Does plan member {member_id} have coverage for procedure {procedure}{for_patient}?",
            "Insurance check{for_patient}: member {member_id}, CPT {procedure}.",
        ),
        held_out=(
            "Before we bill CPT {procedure}, confirm that the plan with member number "
            "{member_id} pays for it{for_patient}.",
            "What copay applies to CPT {procedure} under member {member_id}{for_patient}?",
            "Look into whether {member_id} is covered for code {procedure}{for_patient}.",
        ),
    ),
    "refill_prescription": ToolTemplates(
        train=(
            "Send a {days}-day refill of {drug} for {patient}.",
            "Please refill {drug} for {patient}, {days} days supply.",
            "{patient} is out of {drug}; refill for {days} days.",
            "Can you renew {drug} ({days}-day supply) for {patient}?",
            "Refill request: {drug}, {days} days, {patient}.",
            "Call in {drug} for {patient}, {days} day supply to the usual pharmacy.",
        ),
        held_out=(
            "Submit a pharmacy refill so {patient} gets {days} days of {drug}.",
            "The {drug} is running low; renew it for {patient} with a {days} day supply.",
            "Reorder {drug} for {patient} and make it a {days}-day fill.",
        ),
    ),
    "egfr_calculator": ToolTemplates(
        train=(
            "Calculate eGFR: creatinine {creatinine} mg/dL, {age}-year-old {sex}{for_patient}.",
            "What's the eGFR for a {age} year old {sex} with creatinine {creatinine}{for_patient}?",
            "Kidney function check{for_patient}: {sex}, age {age}, "
            "serum creatinine {creatinine} mg/dL.",
            "eGFR please, Cr {creatinine}, {age}yo {sex}{for_patient}.",
            "Estimate GFR with CKD-EPI for {sex}, {age}, creatinine {creatinine} mg/dL"
            "{for_patient}.",
            "Run CKD-EPI{for_patient}: {age}-year-old {sex}, creatinine {creatinine}.",
        ),
        held_out=(
            "Creatinine came back at {creatinine} mg/dL{for_patient}; the patient is a "
            "{age} year old {sex}. What stage of CKD is that?",
            "How well are the kidneys working for a {sex} aged {age} whose creatinine is "
            "{creatinine}{for_patient}?",
            "Work out the estimated glomerular filtration rate, {sex} patient, {age} years, "
            "creatinine {creatinine} mg/dL{for_patient}.",
        ),
    ),
    "imaging_order": ToolTemplates(
        train=(
            "Order {modality} of the {body_part} for {patient}.",
            "Please get {body_part} {modality} on {patient}.",
            "{patient} needs {modality} imaging of the {body_part}.",
            "Can you put in {modality} {body_part} for {patient}?",
            "Request {body_part} {modality} for {patient}, routine priority.",
            "Imaging order: {modality}, {body_part}, {patient}.",
        ),
        held_out=(
            "I'd like {patient} to go for {modality} looking at the {body_part}.",
            "Set up {body_part} imaging by {modality} for {patient}.",
            "Arrange {modality} scanning, region {body_part}, for {patient}.",
        ),
    ),
    "glucose_converter": ToolTemplates(
        train=(
            "Convert {value} {unit} to {to_unit}{for_patient}.",
            "What is a glucose of {value} {unit} in {to_unit}{for_patient}?",
            "Glucose {value} {unit}{for_patient}, what's that in {to_unit}?",
            "Can you convert blood sugar {value} {unit} into {to_unit}{for_patient}?",
            "{value} {unit} glucose{for_patient} -> {to_unit}, please.",
            "Need the {to_unit} equivalent of {value} {unit}{for_patient}.",
        ),
        held_out=(
            "The meter read {value} {unit}{for_patient}; express that in {to_unit}.",
            "Translate a blood glucose of {value} {unit} to the other unit ({to_unit})"
            "{for_patient}.",
            "How much is {value} {unit} of glucose when written as {to_unit}{for_patient}?",
        ),
    ),
}

# Ways to refer to a patient in a request for a tool that takes an MRN.
PATIENT_REFERENCES: tuple[str, ...] = (
    "{name} ({mrn})",
    "{name}, {mrn}",
    "{name} ({mrn}, DOB {dob})",
    "{mrn} ({name})",
    "{name}, {mrn}, born {dob}",
    "{mrn}",
)

# Optional patient mentions for tools that take no MRN (the first is empty).
PATIENT_MENTIONS: tuple[str, ...] = ("", " for {name}", " for {name} ({mrn})", " for {mrn}")

# Sentences appended to a request, each carrying one kind of PII.
CONTACT_CLAUSES: dict[str, tuple[str, ...]] = {
    "PHONE_NUMBER": (
        "{She} called from {phone}.",
        "Callback number is {phone}.",
        "{Her} best contact number is {phone}.",
    ),
    "EMAIL_ADDRESS": (
        "{Her} email on file is {email}.",
        "Send the summary to {email}.",
    ),
    "STREET_ADDRESS": (
        "Address on file: {address}.",
        "{She} lives at {address}.",
    ),
    "US_SSN": (
        "SSN {ssn} for the billing match.",
        "Registration used SSN {ssn}.",
    ),
    "INSURANCE_ID": (
        "Insurance member ID {insurance}.",
        "{Her} plan ID is {insurance}.",
    ),
    "DATE_OF_BIRTH": (
        "DOB {dob}.",
        "{She} was born {dob}.",
    ),
}

CANARY_CLAUSES: tuple[str, ...] = (
    "Portal note ref: {canary}.",
    "Keep {canary} with the chart.",
)

# Final answers to the clinician; {who} is a patient reference or absent.
ANSWERS_WITH_PATIENT: tuple[str, ...] = (
    "Here is what came back for {who}: {result}",
    "{who}: {result}",
    "Done for {who}. {result}",
)
ANSWERS_WITHOUT_PATIENT: tuple[str, ...] = (
    "{result}",
    "Done. {result}",
    "Here is the result: {result}",
)
