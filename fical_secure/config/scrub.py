"""Scrubber profile: which recognizers run and how, from schema-checked YAML.

The profile is validated completely (every problem listed at once) before any
recognizer or model is built, so a typo cannot silently disable a recognizer:
Presidio's own YAML loader falls back to its defaults on a bad file, which for
a scrubber means failing open. This module does not import Presidio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fical_secure.config.fields import (
    Bool,
    Distinct,
    Section,
    Text,
    choice,
    distinct,
    integer,
    listing,
    load_model,
    problem,
    version,
)

DEFAULT_PROFILE = Path(__file__).parents[1] / "scrub" / "recognizers.yaml"
SCHEMA_VERSION = 1
MAX_MASK_PASSES = 5

# Presidio built-ins a profile may enable: vetted to run offline, without extra models.
PRESIDIO_RECOGNIZERS: frozenset[str] = frozenset(
    {
        "EmailRecognizer",
        "PhoneRecognizer",
        "UsSsnRecognizer",
        "UrlRecognizer",
        "IpRecognizer",
        "CreditCardRecognizer",
        "MedicalLicenseRecognizer",
        "UsBankRecognizer",
        "UsPassportRecognizer",
        "UsLicenseRecognizer",
        "UsItinRecognizer",
        "UsMbiRecognizer",
        "IbanRecognizer",
        "MacAddressRecognizer",
        "UuidRecognizer",
        "CryptoRecognizer",
        "AbaRoutingRecognizer",
        "NhsRecognizer",
        "DateRecognizer",
    }
)
# Our recognizers (fical_secure.scrub.recognizers.CLINICAL_RECOGNIZERS has the classes).
CLINICAL_RECOGNIZER_NAMES: frozenset[str] = frozenset(
    {
        "MedicalRecordNumberRecognizer",
        "NpiRecognizer",
        "InsuranceIdRecognizer",
        "AccountNumberRecognizer",
        "LicenseNumberRecognizer",
        "VehicleIdRecognizer",
        "DeviceIdRecognizer",
        "FaxNumberRecognizer",
        "StreetAddressRecognizer",
        "ZipCodeRecognizer",
        "ClinicalDateRecognizer",
        "DateOfBirthRecognizer",
        "AgeOver89Recognizer",
        "CanaryRecognizer",
        "PhoneShapeRecognizer",
        "PersonNameHeuristicRecognizer",
        "ReferenceIdRecognizer",
        "NameShapeRecognizer",
        "PhoneExtensionRecognizer",
        "OtherCodeRecognizer",
        "FacilityNameRecognizer",
    }
)
NER_ENTITIES: frozenset[str] = frozenset({"PERSON", "LOCATION", "NRP", "DATE_TIME", "ORGANIZATION"})
# Recognizers that take ``regions`` (phonenumbers region codes to parse numbers as).
_REGION_RECOGNIZERS = frozenset({"PhoneRecognizer"})


def _threshold(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0.0 < float(value) < 1.0:
        raise problem("must be a number strictly between 0 and 1")
    return float(value)


class RecognizerEntry(Section):
    """One recognizer of a profile; ``context`` (when set) replaces its context words.

    ``regions`` (phone recognizer only) lists the regions whose numbering plans
    are parsed; a region a corpus does not use only adds false positives.
    """

    name: str
    enabled: Bool = True
    context: Annotated[tuple[Text, ...], listing(non_empty=False)] | None = None
    regions: Annotated[tuple[Text, ...], listing(non_empty=False)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, raw: Any) -> Any:
        return {"name": raw} if isinstance(raw, str) else raw

    @field_validator("regions")
    @classmethod
    def _regions_only_where_parsed(
        cls, regions: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        if regions is not None and info.data.get("name") not in _REGION_RECOGNIZERS:
            raise problem(f"only {', '.join(sorted(_REGION_RECOGNIZERS))} take regions")
        return regions


class PresidioEntry(RecognizerEntry):
    name: Annotated[str, choice(PRESIDIO_RECOGNIZERS)]


class ClinicalEntry(RecognizerEntry):
    name: Annotated[str, choice(CLINICAL_RECOGNIZER_NAMES)]


def _enabled_once(entries: tuple[RecognizerEntry, ...]) -> tuple[RecognizerEntry, ...]:
    """Each recognizer listed once; the ones switched off (``enabled: false``) dropped."""
    distinct(tuple(e.name for e in entries))
    return tuple(e for e in entries if e.enabled)


class ScrubProfile(Section):
    """A validated scrubber profile (only the enabled recognizers are kept)."""

    version: Annotated[int, version(SCHEMA_VERSION)]
    language: Text
    spacy_model: Text
    score_threshold: Annotated[float, BeforeValidator(_threshold)]
    chunk_chars: Annotated[int, integer(1, 10**9)]
    overlap_chars: Annotated[int, integer(64, 10**9)]
    ner_entities: Annotated[tuple[Annotated[str, choice(NER_ENTITIES)], ...], listing(), Distinct]
    presidio: Annotated[
        tuple[PresidioEntry, ...], listing(non_empty=False), AfterValidator(_enabled_once)
    ]
    clinical: Annotated[
        tuple[ClinicalEntry, ...], listing(non_empty=False), AfterValidator(_enabled_once)
    ]
    mask_passes: Annotated[int, integer(1, MAX_MASK_PASSES)]
    max_record_chars: Annotated[int, integer(1, 10**12)]

    @model_validator(mode="after")
    def _windows_overlap(self) -> ScrubProfile:
        if self.chunk_chars <= 2 * self.overlap_chars:
            raise problem("chunk_chars must be more than 2 * overlap_chars")
        return self


def load_profile(path: str | Path | None = None) -> ScrubProfile:
    """Read and validate a scrubber profile (the packaged default when ``path`` is None).

    Raises:
        ConfigError: the file is unreadable, is not YAML, or violates the schema
            (the message lists every violation).
    """
    return load_model(ScrubProfile, DEFAULT_PROFILE if path is None else path, "scrubber profile")
