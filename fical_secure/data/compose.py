"""Compose request and answer texts that record every PII value they contain.

Texts are built only from :class:`Fragment` objects: literal template text, or
a planted value together with its PII kind. Filling a template concatenates
fragments and carries their records along, so the PII ground truth of a text
is exact by construction: nothing reaches the text without being recorded.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from fical_secure.data.catalogue import DRUGS
from fical_secure.data.conventions import Dialect, dialect_value
from fical_secure.data.pii import CORPUS_EPOCH, Identity
from fical_secure.data.schema import ArgValue, ToolSpec
from fical_secure.data.templates import (
    ANSWERS_WITH_PATIENT,
    ANSWERS_WITHOUT_PATIENT,
    CONTACT_CLAUSES,
    PATIENT_MENTIONS,
    PATIENT_REFERENCES,
)
from fical_secure.data.vocab import DATE_STYLES, date_words, enum_words, number_words, other_unit

_FORMATTER = string.Formatter()

# Request slot name of each argument whose slot is not named like the argument.
SLOT_OF_ARG: dict[str, str] = {
    "weight_kg": "weight",
    "dose_mg_per_kg": "dose",
    "height_cm": "height",
    "days_supply": "days",
    "creatinine_mg_dl": "creatinine",
    "from_unit": "unit",
}
_DOSES_MG_PER_KG = (0.1, 0.5, 1.0, 2.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 25.0)


@dataclass(frozen=True)
class Fragment:
    """A piece of text and the (kind, value) pairs of the PII planted in it."""

    text: str
    pii: tuple[tuple[str, str], ...] = ()


def literal(text: str) -> Fragment:
    """Template text that carries no PII."""
    return Fragment(text)


def planted(kind: str, value: str) -> Fragment:
    """A PII value (or canary), recorded with its kind."""
    return Fragment(value, ((kind, value),))


def _dedupe(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(dict.fromkeys(pairs))


def fill(template: str, slots: Mapping[str, Fragment]) -> Fragment:
    """Fill ``template``'s ``{slot}`` fields with fragments, keeping their PII records.

    Raises:
        KeyError: the template names a slot that ``slots`` lacks (a template bug).
    """
    parts: list[str] = []
    pii: list[tuple[str, str]] = []
    for text, field, _spec, _conv in _FORMATTER.parse(template):
        parts.append(text)
        if field is not None:
            fragment = slots[field]
            parts.append(fragment.text)
            pii.extend(fragment.pii)
    return Fragment("".join(parts), _dedupe(pii))


def join(fragments: list[Fragment], sep: str = " ") -> Fragment:
    """Concatenate fragments with ``sep``, keeping their PII records."""
    pii = [pair for fragment in fragments for pair in fragment.pii]
    return Fragment(sep.join(f.text for f in fragments), _dedupe(pii))


def template_fields(template: str) -> tuple[str, ...]:
    """The slot names a template uses, in order."""
    return tuple(f for _t, f, _s, _c in _FORMATTER.parse(template) if f is not None)


def sample_arguments(
    tool: ToolSpec, person: Identity, rng: random.Random, dialect: Dialect | None = None
) -> dict[str, ArgValue]:
    """Draw arguments for ``tool`` about ``person`` that are valid under the catalogue.

    With a ``dialect``, enum values the house has a phrase for come up often.
    """
    house = dialect or Dialect()
    samplers: dict[str, Callable[[], ArgValue]] = {
        "mrn": lambda: person.mrn,
        "member_id": lambda: person.member_id,
        "sex": lambda: person.sex,
        "age": lambda: person.age_on(CORPUS_EPOCH),
        "date": lambda: (CORPUS_EPOCH + timedelta(days=rng.randint(1, 180))).isoformat(),
        "weight_kg": lambda: round(rng.uniform(42.0, 135.0), 1),
        "height_cm": lambda: float(rng.randint(148, 198)),
        "dose_mg_per_kg": lambda: rng.choice(_DOSES_MG_PER_KG),
        "days_supply": lambda: rng.choice((30, 60, 90)),
        "creatinine_mg_dl": lambda: round(rng.uniform(0.5, 4.5), 2),
    }
    args: dict[str, ArgValue] = {}
    # the glucose value is drawn last: its range depends on the unit
    for spec in sorted(tool.args, key=lambda a: a.name == "value"):
        if spec.name in samplers:
            args[spec.name] = samplers[spec.name]()
        elif spec.name == "drug_b":
            others = [d for d in DRUGS if d != args["drug_a"]]
            args[spec.name] = dialect_value(others, house, rng) or rng.choice(others)
        elif spec.name == "value":
            mg_dl = args["from_unit"] == "mg_dl"
            args[spec.name] = (
                float(rng.randint(45, 450)) if mg_dl else round(rng.uniform(2.5, 25.0), 1)
            )
        else:
            args[spec.name] = dialect_value(spec.choices, house, rng) or rng.choice(spec.choices)
    return {spec.name: args[spec.name] for spec in tool.args}


def argument_slots(
    args: Mapping[str, ArgValue], date_style: int, words: Mapping[str, str] | None = None
) -> dict[str, Fragment]:
    """Words for every argument of a call, keyed by request slot name.

    ``words`` maps enum values to the house phrase that replaces their standard words.
    """
    words = words or {}
    slots: dict[str, Fragment] = {}
    for name, value in args.items():
        slot = SLOT_OF_ARG.get(name, name)
        if name == "member_id":
            slots[slot] = planted("INSURANCE_ID", str(value))
        elif name == "mrn":
            continue  # written through the patient reference, with the other identifiers
        elif name == "date":
            slots[slot] = literal(date_words(date.fromisoformat(str(value)), date_style))
        elif isinstance(value, str):
            slots[slot] = literal(words.get(value) or enum_words(name, value))
        else:
            slots[slot] = literal(number_words(value))
    if "from_unit" in args:
        slots["to_unit"] = literal(other_unit(str(args["from_unit"])))
    return slots


def person_slots(person: Identity, dob_style: int) -> dict[str, Fragment]:
    """Slots for every identifier of ``person`` and the pronouns used in clauses."""
    she, her = ("she", "her") if person.sex == "female" else ("he", "his")
    return {
        "name": planted("PERSON", person.name),
        "mrn": planted("MRN", person.mrn),
        "dob": planted("DATE_OF_BIRTH", person.dob_words(dob_style)),
        "phone": planted("PHONE_NUMBER", person.phone),
        "email": planted("EMAIL_ADDRESS", person.email),
        "address": planted("STREET_ADDRESS", person.address),
        "ssn": planted("US_SSN", person.ssn),
        "insurance": planted("INSURANCE_ID", person.member_id),
        "she": literal(she),
        "She": literal(she.capitalize()),
        "her": literal(her),
        "Her": literal(her.capitalize()),
    }


def compose_request(
    tool: ToolSpec,
    template: str,
    person: Identity,
    args: Mapping[str, ArgValue],
    rng: random.Random,
    words: Mapping[str, str] | None = None,
) -> Fragment:
    """A clinician's request for ``tool``: the template, then 0-3 clauses with more PII.

    ``words``: house phrases for enum values (see :mod:`fical_secure.data.conventions`).
    """
    people = person_slots(person, rng.randrange(DATE_STYLES))
    slots = argument_slots(args, rng.randrange(DATE_STYLES), words)
    slots["patient"] = fill(rng.choice(PATIENT_REFERENCES), people)
    slots["for_patient"] = fill(rng.choice(PATIENT_MENTIONS), people)
    request = fill(template, slots)
    planted_kinds = {kind for kind, _value in request.pii}
    kinds = [k for k in CONTACT_CLAUSES if k not in planted_kinds]
    count = rng.choice((0, 0, 1, 1, 1, 2, 2, 3))
    clauses = [fill(rng.choice(CONTACT_CLAUSES[k]), people) for k in rng.sample(kinds, count)]
    return join([request, *clauses])


def compose_answer(result: str, request: Fragment, rng: random.Random) -> Fragment:
    """The agent's final answer: the tool result, addressed to a patient named in the request."""
    names = [value for kind, value in request.pii if kind in ("PERSON", "MRN")]
    if not names:
        return fill(rng.choice(ANSWERS_WITHOUT_PATIENT), {"result": literal(result)})
    kind = "PERSON" if any(k == "PERSON" for k, _v in request.pii) else "MRN"
    who = next(value for k, value in request.pii if k == kind)
    template = rng.choice(ANSWERS_WITH_PATIENT)
    return fill(template, {"who": planted(kind, who), "result": literal(result)})
