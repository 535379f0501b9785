"""Release (audit) profiles: the thresholds and policies a release must meet, from YAML.

A profile is validated completely before any check runs. Unknown keys, wrong
types and out-of-range thresholds are listed with their paths in one
:class:`ConfigError`, so a typo (``max_mi_uac``) can never silently drop a
check. The profile's SHA-256 (of the file's bytes) goes into every report,
tying a verdict to the exact policy that produced it. The round's gate and
``fical-secure audit`` read the same profile.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fical_secure.audit.attacks import ATTACKS
from fical_secure.compliance import vocabulary as vocab
from fical_secure.config.fields import (
    Bool,
    Distinct,
    FileConfig,
    Section,
    Text,
    choice,
    distinct,
    integer,
    listing,
    load_model,
    number,
    problem,
    read_config,
    version,
)
from fical_secure.errors import ConfigError
from fical_secure.protocol.secagg.floors import SecAggFloors
from fical_secure.release.policy import DPPolicy, ReleasePolicy

SCHEMA_VERSION = 2
Detection = Literal["pattern", "ner", "pattern+ner", "partial", "out_of_reach"]
DETECTIONS: tuple[Detection, ...] = ("pattern", "ner", "pattern+ner", "partial", "out_of_reach")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DEFAULT = ReleasePolicy()

BUILTIN_DIR = Path(__file__).parents[1] / "compliance" / "profiles"
"""The profiles shipped with the package (``strict`` is the audit's default)."""

Unit = Annotated[float, number(0.0, 1.0)]
Entity = Annotated[str, choice(vocab.KNOWN_ENTITIES)]


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        kind = "nothing" if value is None else type(value).__name__
        raise problem(f"must be a non-empty string, got {kind}")
    if not _ID.match(value):
        raise problem("must be lowercase letters, digits and dashes")
    return value


def _threat_model(value: Any) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise problem("must be a threat model id (the file name without .md)")
    return value


def _recall_kind(value: Any) -> str:
    if value not in vocab.MEASURABLE_KINDS:
        raise problem(f"unknown key (allowed: {', '.join(sorted(vocab.MEASURABLE_KINDS))})")
    return str(value)


def _recall_table(value: Any) -> Any:
    if not isinstance(value, dict):
        raise problem(f"must be a mapping, got {type(value).__name__}")
    if not value:
        raise problem("must name at least one PII kind")
    return value


def _floors(value: Any) -> SecAggFloors:
    """The ``secagg`` section through :meth:`SecAggFloors.from_mapping`, its one parser."""
    if not isinstance(value, dict):
        raise problem(f"must be a mapping, got {type(value).__name__}")
    try:
        return SecAggFloors.from_mapping(value)
    except ConfigError as exc:
        raise problem(str(exc)) from None


class DPSection(Section):
    """``release.dp``: DP claim selection and the budget across rounds (:class:`DPPolicy`)."""

    epsilon: Annotated[float, number(1e-6, 100.0)]
    delta: Annotated[float, number(1e-15, 1e-4)]
    max_claims_per_subject: Annotated[int, integer(1, 1000)]
    budget_epsilon: Annotated[float, number(1e-6, 1000.0)]
    budget_delta: Annotated[float, number(1e-15, 0.1)] | None = None
    _policy: DPPolicy | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> DPSection:
        try:
            self._policy = DPPolicy(**self.model_dump())
        except ConfigError as exc:
            raise problem(str(exc)) from None
        return self

    @property
    def policy(self) -> DPPolicy | None:
        """The DP policy this section describes (None only before validation)."""
        return self._policy


class ReleaseSection(Section):
    """``release``: the fields of :class:`ReleasePolicy`, one vocabulary, with file bounds."""

    max_mi_auc: Annotated[float, number(0.5, 1.0)]
    max_tpr_at_low_fpr: Unit
    false_block_rate: Annotated[float, number(0.001, 0.2)]
    max_canary_exposure_bits: Annotated[float, number(0.0, 128.0)]
    max_verbatim_pii_hits: Annotated[int, integer(0, 0)]
    max_candidate_pii_detections: Annotated[int, integer(0, 10**6)]
    min_scrubber_recall: Annotated[
        dict[Annotated[str, BeforeValidator(_recall_kind)], Unit],
        BeforeValidator(_recall_table),
    ]
    target_fpr: Unit = _DEFAULT.target_fpr
    permutations: Annotated[int, integer(99, 100_000)] = _DEFAULT.permutations
    attacks: Annotated[
        tuple[Annotated[str, choice(tuple(a.name for a in ATTACKS))], ...], listing(), Distinct
    ] = _DEFAULT.attacks
    entry_margin: Unit = _DEFAULT.entry_margin
    entry_min_similarity: Unit = _DEFAULT.entry_min_similarity
    entry_run_margin: Annotated[int, integer(1, 1000)] = _DEFAULT.entry_run_margin
    max_drop_fraction: Unit = _DEFAULT.max_drop_fraction
    max_remediation_rounds: Annotated[int, integer(1, 20)] = _DEFAULT.max_remediation_rounds
    secagg_min_cohort_difference: Annotated[int, integer(1, 1000)] = (
        _DEFAULT.secagg_min_cohort_difference
    )
    secagg_min_support: Annotated[int, integer(1, 100_000)] = _DEFAULT.secagg_min_support
    dp: DPSection | None = None
    _policy: ReleasePolicy = PrivateAttr(default_factory=ReleasePolicy)

    @model_validator(mode="after")
    def _consistent(self) -> ReleaseSection:
        values = {k: getattr(self, k) for k in type(self).model_fields if k != "dp"}
        try:
            self._policy = ReleasePolicy(**values, dp=None if self.dp is None else self.dp.policy)
        except ConfigError as exc:
            raise problem(str(exc)) from None
        return self

    @property
    def policy(self) -> ReleasePolicy:
        """The release policy this section describes."""
        return self._policy


class ScrubberSection(Section):
    required_entities: Annotated[tuple[Entity, ...], listing(), Distinct]


class SafeHarborItem(Section):
    """One HIPAA Safe Harbor identifier kind and the recognizers that cover it."""

    id: Text
    identifier: Text
    detection: Annotated[Detection, choice(DETECTIONS)]
    entities: Annotated[tuple[Entity, ...], listing(non_empty=False), Distinct]
    note: Text

    @field_validator("entities")
    @classmethod
    def _reach(cls, entities: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        detection = info.data.get("detection")
        if detection == "out_of_reach" and entities:
            raise problem("must be empty for an identifier out of reach of recognizers")
        if detection not in (None, "out_of_reach") and not entities:
            raise problem("must be a non-empty list")
        return entities


def _one_id_each(items: tuple[SafeHarborItem, ...]) -> tuple[SafeHarborItem, ...]:
    distinct(tuple(i.id for i in items))
    return items


class CryptoPolicy(Section):
    """Algorithms and key-handling rules a client configuration must meet."""

    allowed_aeads: Annotated[tuple[Annotated[str, choice(vocab.AEADS)], ...], listing(), Distinct]
    signature: Annotated[str, choice(vocab.SIGNATURES - {"none"})]
    key_exchange: Annotated[str, choice(vocab.KEY_EXCHANGES)]
    kdf: Annotated[str, choice(vocab.KDFS - {"none"})]
    # no permission bit outside this mask is allowed (written 0400 or 0600)
    private_key_mode: Annotated[int, choice(vocab.PRIVATE_KEY_MODES)]
    require_sealed_transport: Bool
    forbid_raw_sample_sharing: Bool


class ProfileFile(FileConfig):
    """A profile file as written; :func:`load_profile` resolves it into a :class:`Profile`."""

    version: Annotated[int, version(SCHEMA_VERSION)]
    name: Annotated[str, BeforeValidator(_name)]
    description: Text
    release: ReleaseSection
    scrubber: ScrubberSection
    crypto: CryptoPolicy
    threat_models: Annotated[
        tuple[Annotated[str, BeforeValidator(_threat_model)], ...], listing(), Distinct
    ]
    safe_harbor: Annotated[
        tuple[SafeHarborItem, ...], listing(non_empty=False), AfterValidator(_one_id_each)
    ] = ()
    secagg: Annotated[SecAggFloors, PlainValidator(_floors)] = SecAggFloors()


@dataclass(frozen=True)
class Profile:
    """A validated audit profile."""

    name: str
    description: str
    release: ReleasePolicy
    required_entities: tuple[str, ...]  # includes every entity the Safe Harbor map names
    safe_harbor: tuple[SafeHarborItem, ...]
    crypto: CryptoPolicy
    threat_models: tuple[str, ...]
    source: str
    sha256: str
    secagg: SecAggFloors = field(default_factory=SecAggFloors)  # floors on signed SecAgg+ params


def builtin_profiles() -> tuple[str, ...]:
    """Names of the shipped profiles, for ``--profile NAME``."""
    return tuple(sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml")))


def resolve_profile(spec: str | Path) -> Path:
    """A shipped profile's file for a bare name (``strict``), else ``spec`` as a path.

    A name that matches no shipped profile and no file is left to
    :func:`load_profile`, which raises ConfigError naming it.
    """
    text = str(spec)
    if _ID.match(text) and not Path(text).exists():
        candidate = BUILTIN_DIR / f"{text}.yaml"
        if candidate.is_file():
            return candidate
    return Path(spec)


def load_profile(path: str | Path) -> Profile:
    """Read, validate and build a profile.

    Raises:
        ConfigError: unreadable file, not YAML, or schema violations (all of
            them, one per line, each with its path).
    """
    data = read_config(path, "audit profile")
    file = load_model(ProfileFile, path, "audit profile", data=data)
    required = file.scrubber.required_entities
    mapped = [e for item in file.safe_harbor for e in item.entities if e not in required]
    return Profile(
        name=file.name,
        description=file.description,
        release=file.release.policy,
        required_entities=required + tuple(dict.fromkeys(mapped)),
        safe_harbor=file.safe_harbor,
        crypto=file.crypto,
        threat_models=file.threat_models,
        source=str(path),
        sha256=hashlib.sha256(data).hexdigest(),
        secagg=file.secagg,
    )
