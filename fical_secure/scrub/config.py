"""Scrubber profile: which recognizers run and how, loaded from YAML and schema-checked.

The profile is validated completely (every finding collected, then one
:class:`ConfigError` listing them all) before any recognizer or model is
built, so a typo cannot silently disable a recognizer: Presidio's own YAML
loader falls back to its defaults on a bad file, which for a scrubber means
failing open. This module does not import Presidio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fical_secure.errors import ConfigError, UntrustedInputError
from fical_secure.untrusted import load_yaml_file

DEFAULT_PROFILE = Path(__file__).with_name("recognizers.yaml")
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
_TOP_KEYS = {
    "version": int,
    "language": str,
    "spacy_model": str,
    "score_threshold": float,
    "chunk_chars": int,
    "overlap_chars": int,
    "ner_entities": list,
    "presidio": list,
    "clinical": list,
    "mask_passes": int,
    "max_record_chars": int,
}
_ENTRY_KEYS = {"name": str, "enabled": bool, "context": list, "regions": list}
# Recognizers that take ``regions`` (phonenumbers region codes to parse numbers as).
_REGION_RECOGNIZERS = frozenset({"PhoneRecognizer"})


@dataclass(frozen=True)
class RecognizerEntry:
    """One recognizer of a profile; ``context`` (when set) replaces its context words.

    ``regions`` (phone recognizer only) lists the regions whose numbering plans
    are parsed; a region a corpus does not use only adds false positives.
    """

    name: str
    context: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ScrubProfile:
    """A validated scrubber profile."""

    language: str
    spacy_model: str
    score_threshold: float
    chunk_chars: int
    overlap_chars: int
    ner_entities: tuple[str, ...]
    mask_passes: int
    max_record_chars: int
    presidio: tuple[RecognizerEntry, ...]
    clinical: tuple[RecognizerEntry, ...]


def _type_ok(value: object, expected: type) -> bool:
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _check_entries(
    section: str, raw: list[Any], allowed: frozenset[str], findings: list[str]
) -> None:
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"{section}[{i}]"
        item = {"name": entry} if isinstance(entry, str) else entry
        if not isinstance(item, dict):
            findings.append(f"{where}: expected a name or a mapping, got {type(entry).__name__}")
            continue
        for key, value in item.items():
            if key not in _ENTRY_KEYS:
                findings.append(f"{where}: unknown key {key!r} (allowed: {sorted(_ENTRY_KEYS)})")
            elif not _type_ok(value, _ENTRY_KEYS[key]):
                findings.append(f"{where}.{key}: expected {_ENTRY_KEYS[key].__name__}")
        name = item.get("name")
        if not isinstance(name, str) or name not in allowed:
            findings.append(f"{where}: unknown recognizer {name!r}; known: {sorted(allowed)}")
        elif name in seen:
            findings.append(f"{where}: recognizer {name!r} listed twice")
        seen.add(str(name))
        for key in ("context", "regions"):
            words = item.get(key)
            if isinstance(words, list) and not all(isinstance(w, str) and w for w in words):
                findings.append(f"{where}.{key}: expected a list of non-empty strings")
        if "regions" in item and name not in _REGION_RECOGNIZERS:
            findings.append(f"{where}.regions: only {sorted(_REGION_RECOGNIZERS)} take regions")


def validate_profile(raw: object) -> list[str]:
    """Return every schema violation of a parsed profile (empty when valid)."""
    if not isinstance(raw, dict):
        return [f"profile must be a mapping, got {type(raw).__name__}"]
    findings: list[str] = []
    for key in sorted(set(_TOP_KEYS) - set(raw)):
        findings.append(f"missing key {key!r}")
    for key, value in raw.items():
        if key not in _TOP_KEYS:
            findings.append(f"unknown key {key!r} (allowed: {sorted(_TOP_KEYS)})")
        elif not _type_ok(value, _TOP_KEYS[key]):
            findings.append(
                f"{key}: expected {_TOP_KEYS[key].__name__}, got {type(value).__name__}"
            )
    if findings:
        return findings
    if raw["version"] != SCHEMA_VERSION:
        findings.append(f"version: expected {SCHEMA_VERSION}, got {raw['version']}")
    if not 0.0 < float(raw["score_threshold"]) < 1.0:
        findings.append("score_threshold: must lie strictly between 0 and 1")
    if raw["overlap_chars"] < 64 or raw["chunk_chars"] <= 2 * raw["overlap_chars"]:
        findings.append(
            "chunk_chars/overlap_chars: need overlap_chars >= 64 and chunk_chars > 2 * overlap"
        )
    if not 1 <= raw["mask_passes"] <= MAX_MASK_PASSES:
        findings.append(f"mask_passes: must be between 1 and {MAX_MASK_PASSES}")
    if raw["max_record_chars"] < 1:
        findings.append("max_record_chars: must be a positive number of characters")
    for label in raw["ner_entities"]:
        if label not in NER_ENTITIES:
            findings.append(f"ner_entities: unknown {label!r}; known: {sorted(NER_ENTITIES)}")
    _check_entries("presidio", raw["presidio"], PRESIDIO_RECOGNIZERS, findings)
    _check_entries("clinical", raw["clinical"], CLINICAL_RECOGNIZER_NAMES, findings)
    return findings


def _entries(raw: list[Any]) -> tuple[RecognizerEntry, ...]:
    items = [{"name": e} if isinstance(e, str) else e for e in raw]
    return tuple(
        RecognizerEntry(
            name=item["name"],
            context=tuple(item["context"]) if "context" in item else None,
            regions=tuple(item["regions"]) if "regions" in item else None,
        )
        for item in items
        if item.get("enabled", True)
    )


def load_profile(path: str | Path | None = None) -> ScrubProfile:
    """Read and validate a scrubber profile (the packaged default when ``path`` is None).

    Raises:
        ConfigError: the file is unreadable, is not YAML, or violates the schema
            (the message lists every violation).
    """
    source = Path(path) if path is not None else DEFAULT_PROFILE
    try:
        raw = load_yaml_file(source)
    except (OSError, UntrustedInputError) as exc:
        raise ConfigError(f"cannot read scrubber profile {source}: {exc}") from exc
    findings = validate_profile(raw)
    if findings:
        raise ConfigError(f"invalid scrubber profile {source}: " + "; ".join(findings))
    return ScrubProfile(
        language=raw["language"],
        spacy_model=raw["spacy_model"],
        score_threshold=float(raw["score_threshold"]),
        chunk_chars=raw["chunk_chars"],
        overlap_chars=raw["overlap_chars"],
        ner_entities=tuple(raw["ner_entities"]),
        mask_passes=raw["mask_passes"],
        max_record_chars=raw["max_record_chars"],
        presidio=_entries(raw["presidio"]),
        clinical=_entries(raw["clinical"]),
    )
