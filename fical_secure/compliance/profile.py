"""Audit profiles: the thresholds and policies an audit enforces, from schema-checked YAML.

A profile is validated completely before any check runs. Unknown keys, wrong
types and out-of-range thresholds are collected with their paths and raised
as one :class:`ConfigError`, so a typo (``max_mi_uac``) can never silently
drop a check. The profile's SHA-256 (of the file's bytes) goes into every
report, tying a verdict to the exact policy that produced it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

from fical_secure.audit.attacks import ATTACKS
from fical_secure.compliance import vocabulary as vocab
from fical_secure.compliance.schema import Findings, join
from fical_secure.errors import ConfigError, UntrustedInputError
from fical_secure.protocol.secagg.floors import FLOOR_KEYS, SecAggFloors
from fical_secure.release.policy import DPPolicy, ReleasePolicy
from fical_secure.untrusted import MAX_CONFIG_BYTES, loads_yaml, read_regular

SCHEMA_VERSION = 2
Detection = Literal["pattern", "ner", "pattern+ner", "partial", "out_of_reach"]
DETECTIONS: tuple[str, ...] = ("pattern", "ner", "pattern+ner", "partial", "out_of_reach")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TOP = ("version", "name", "description", "release", "scrubber", "crypto", "threat_models")
_RELEASE = (
    "max_mi_auc",
    "max_tpr_at_low_fpr",
    "false_block_rate",
    "max_canary_exposure_bits",
    "max_verbatim_pii_hits",
    "max_candidate_pii_detections",
    "min_scrubber_recall",
)
_RELEASE_OPTIONAL = tuple(k for k in ReleasePolicy.keys() if k not in _RELEASE)
_RELEASE_UNIT = (
    "target_fpr",
    "entry_margin",
    "entry_min_similarity",
    "max_drop_fraction",
)
_CRYPTO = (
    "allowed_aeads",
    "signature",
    "key_exchange",
    "kdf",
    "private_key_mode",
    "require_sealed_transport",
    "forbid_raw_sample_sharing",
)
_SAFE_HARBOR = ("id", "identifier", "entities", "detection", "note")


@dataclass(frozen=True)
class SafeHarborItem:
    """One HIPAA Safe Harbor identifier kind and the recognizers that cover it."""

    id: str
    identifier: str
    entities: tuple[str, ...]
    detection: Detection
    note: str


@dataclass(frozen=True)
class CryptoPolicy:
    """Algorithms and key-handling rules a client configuration must meet."""

    allowed_aeads: tuple[str, ...]
    signature: str
    key_exchange: str
    kdf: str
    private_key_mode: int  # no permission bit outside this mask is allowed
    require_sealed_transport: bool
    forbid_raw_sample_sharing: bool


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


BUILTIN_DIR = Path(__file__).with_name("profiles")
"""The profiles shipped with the package (``strict`` is the audit's default)."""


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
    source = Path(path)
    try:
        data = read_regular(source, max_bytes=MAX_CONFIG_BYTES)
        raw = loads_yaml(data)
    except (OSError, UntrustedInputError) as exc:
        raise ConfigError(f"cannot read audit profile {source}: {exc}") from exc
    findings = Findings()
    profile = parse_profile(
        raw, findings, source=str(source), sha256=hashlib.sha256(data).hexdigest()
    )
    if profile is None or findings.problems:
        listing = "\n  ".join(findings.problems)
        raise ConfigError(
            f"invalid audit profile {source} ({len(findings.problems)} problems):\n  {listing}"
        )
    return profile


def parse_profile(
    raw: Any, findings: Findings, *, source: str = "", sha256: str = ""
) -> Profile | None:
    """Validate a parsed profile tree, recording every problem in ``findings``."""
    top = findings.mapping(raw, "", required=_TOP, optional=("safe_harbor", "secagg"))
    if top is None:
        return None
    if top.get("version") != SCHEMA_VERSION:
        findings.add("version", f"must be {SCHEMA_VERSION}")
    name = findings.string(top.get("name"), "name")
    if name is not None and not _ID.match(name):
        findings.add("name", "must be lowercase letters, digits and dashes")
    description = findings.string(top.get("description"), "description")
    release = _release(top.get("release"), findings)
    required = _required_entities(top.get("scrubber"), findings)
    safe_harbor = _safe_harbor(top.get("safe_harbor", []), findings)
    crypto = _crypto(top.get("crypto"), findings)
    threat_models = _threat_models(top.get("threat_models"), findings)
    secagg = _secagg(top.get("secagg", {}), findings)
    if None in (name, description, release, required, safe_harbor, crypto, threat_models, secagg):
        return None
    assert required is not None and safe_harbor is not None  # narrowed for mypy
    mapped = [e for item in safe_harbor for e in item.entities if e not in required]
    return Profile(
        name=cast(str, name),
        description=cast(str, description),
        release=cast(ReleasePolicy, release),
        required_entities=required + tuple(dict.fromkeys(mapped)),
        safe_harbor=safe_harbor,
        crypto=cast(CryptoPolicy, crypto),
        threat_models=cast(tuple[str, ...], threat_models),
        source=source,
        sha256=sha256,
        secagg=cast(SecAggFloors, secagg),
    )


def _secagg(raw: Any, f: Findings) -> SecAggFloors | None:
    """The optional ``secagg`` section: this client's floors on signed SecAgg+ parameters."""
    section = f.mapping(raw, "secagg", required=(), optional=FLOOR_KEYS)
    if section is None:
        return None
    try:
        return SecAggFloors.from_mapping(section)
    except ConfigError as exc:
        f.add("secagg", str(exc))
        return None


def _release(raw: Any, f: Findings) -> ReleasePolicy | None:
    """The ``release`` section: :class:`ReleasePolicy`'s fields, one vocabulary."""
    t = f.mapping(raw, "release", required=_RELEASE, optional=_RELEASE_OPTIONAL)
    if t is None:
        return None
    p = "release"
    values: dict[str, Any] = {
        "max_mi_auc": f.number(t.get("max_mi_auc"), join(p, "max_mi_auc"), 0.5, 1.0),
        "max_tpr_at_low_fpr": f.number(
            t.get("max_tpr_at_low_fpr"), join(p, "max_tpr_at_low_fpr"), 0.0, 1.0
        ),
        "false_block_rate": f.number(
            t.get("false_block_rate"), join(p, "false_block_rate"), 0.001, 0.2
        ),
        "max_canary_exposure_bits": f.number(
            t.get("max_canary_exposure_bits"), join(p, "max_canary_exposure_bits"), 0.0, 128.0
        ),
        "max_verbatim_pii_hits": f.integer(
            t.get("max_verbatim_pii_hits"), join(p, "max_verbatim_pii_hits"), 0, 0
        ),
        "max_candidate_pii_detections": f.integer(
            t.get("max_candidate_pii_detections"), join(p, "max_candidate_pii_detections"), 0, 10**6
        ),
        "min_scrubber_recall": _recall(t.get("min_scrubber_recall"), f),
    }
    for key in _RELEASE_UNIT:
        if key in t:
            values[key] = f.number(t[key], join(p, key), 0.0, 1.0)
    for key, low, high in (
        ("permutations", 99, 100_000),
        ("entry_run_margin", 1, 1000),
        ("max_remediation_rounds", 1, 20),
        ("secagg_min_cohort_difference", 1, 1000),
        ("secagg_min_support", 1, 100_000),
    ):
        if key in t:
            values[key] = f.integer(t[key], join(p, key), low, high)
    if "attacks" in t:
        values["attacks"] = _attack_names(t["attacks"], join(p, "attacks"), f)
    if "dp" in t:
        values["dp"] = _dp(t["dp"], join(p, "dp"), f)
    if None in values.values():
        return None
    try:
        return ReleasePolicy(**values)
    except ConfigError as exc:
        f.add(p, str(exc))
        return None


_DP = ("epsilon", "delta", "max_claims_per_subject", "budget_epsilon")


def _dp(raw: Any, path: str, f: Findings) -> DPPolicy | None:
    """The optional ``release.dp`` section: DP claim selection and the budget across rounds."""
    t = f.mapping(raw, path, required=_DP, optional=("budget_delta",))
    if t is None:
        return None
    values: dict[str, Any] = {
        "epsilon": f.number(t.get("epsilon"), join(path, "epsilon"), 1e-6, 100.0),
        "delta": f.number(t.get("delta"), join(path, "delta"), 1e-15, 1e-4),
        "max_claims_per_subject": f.integer(
            t.get("max_claims_per_subject"), join(path, "max_claims_per_subject"), 1, 1000
        ),
        "budget_epsilon": f.number(
            t.get("budget_epsilon"), join(path, "budget_epsilon"), 1e-6, 1000.0
        ),
    }
    if "budget_delta" in t:
        values["budget_delta"] = f.number(t["budget_delta"], join(path, "budget_delta"), 1e-15, 0.1)
    if None in values.values():
        return None
    try:
        return DPPolicy(**values)
    except ConfigError as exc:
        f.add(path, str(exc))
        return None


def _attack_names(raw: Any, path: str, f: Findings) -> tuple[str, ...] | None:
    return f.choices(raw, path, tuple(a.name for a in ATTACKS))


def _recall(raw: Any, f: Findings) -> Mapping[str, float] | None:
    path = "release.min_scrubber_recall"
    table = f.mapping(raw, path, required=(), optional=sorted(vocab.MEASURABLE_KINDS))
    if table is None:
        return None
    if not table:
        f.add(path, "must name at least one PII kind")
        return None
    out: dict[str, float] = {}
    ok = True
    for kind, value in table.items():
        number = f.number(value, join(path, str(kind)), 0.0, 1.0)
        ok = ok and number is not None and kind in vocab.MEASURABLE_KINDS
        if number is not None:
            out[str(kind)] = number
    return MappingProxyType(out) if ok else None


def _required_entities(raw: Any, f: Findings) -> tuple[str, ...] | None:
    s = f.mapping(raw, "scrubber", required=("required_entities",))
    if s is None:
        return None
    return f.choices(s.get("required_entities"), "scrubber.required_entities", vocab.KNOWN_ENTITIES)


def _safe_harbor(raw: Any, f: Findings) -> tuple[SafeHarborItem, ...] | None:
    if not isinstance(raw, list):
        f.add("safe_harbor", "must be a list of identifier kinds")
        return None
    items: list[SafeHarborItem] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        item = _safe_harbor_item(entry, join("safe_harbor", i), f)
        if item is not None and item.id in seen:
            f.add(join("safe_harbor", i), f"id {item.id!r} listed twice")
        elif item is not None:
            seen.add(item.id)
            items.append(item)
    return tuple(items) if len(items) == len(raw) else None


def _safe_harbor_item(raw: Any, path: str, f: Findings) -> SafeHarborItem | None:
    m = f.mapping(raw, path, required=_SAFE_HARBOR)
    if m is None:
        return None
    ident = f.string(m.get("id"), join(path, "id"))
    identifier = f.string(m.get("identifier"), join(path, "identifier"))
    detection = f.choice(m.get("detection"), join(path, "detection"), DETECTIONS)
    note = f.string(m.get("note"), join(path, "note"))
    reach = detection != "out_of_reach"
    entities = f.choices(
        m.get("entities"), join(path, "entities"), vocab.KNOWN_ENTITIES, non_empty=reach
    )
    if detection == "out_of_reach" and entities:
        f.add(join(path, "entities"), "must be empty for an identifier out of reach of recognizers")
        return None
    if None in (ident, identifier, detection, note, entities):
        return None
    return SafeHarborItem(
        id=cast(str, ident),
        identifier=cast(str, identifier),
        entities=cast(tuple[str, ...], entities),
        detection=cast(Detection, detection),
        note=cast(str, note),
    )


def _crypto(raw: Any, f: Findings) -> CryptoPolicy | None:
    c = f.mapping(raw, "crypto", required=_CRYPTO)
    if c is None:
        return None
    aeads = f.choices(c.get("allowed_aeads"), "crypto.allowed_aeads", vocab.AEADS)
    signature = f.choice(c.get("signature"), "crypto.signature", vocab.SIGNATURES - {"none"})
    exchange = f.choice(c.get("key_exchange"), "crypto.key_exchange", vocab.KEY_EXCHANGES)
    kdf = f.choice(c.get("kdf"), "crypto.kdf", vocab.KDFS - {"none"})
    mode = f.choice(c.get("private_key_mode"), "crypto.private_key_mode", vocab.PRIVATE_KEY_MODES)
    sealed = f.boolean(c.get("require_sealed_transport"), "crypto.require_sealed_transport")
    no_raw = f.boolean(c.get("forbid_raw_sample_sharing"), "crypto.forbid_raw_sample_sharing")
    if None in (aeads, signature, exchange, kdf, mode, sealed, no_raw):
        return None
    return CryptoPolicy(
        allowed_aeads=cast(tuple[str, ...], aeads),
        signature=cast(str, signature),
        key_exchange=cast(str, exchange),
        kdf=cast(str, kdf),
        private_key_mode=vocab.PRIVATE_KEY_MODES[cast(str, mode)],
        require_sealed_transport=cast(bool, sealed),
        forbid_raw_sample_sharing=cast(bool, no_raw),
    )


def _threat_models(raw: Any, f: Findings) -> tuple[str, ...] | None:
    if not isinstance(raw, list) or not raw:
        f.add("threat_models", "must be a non-empty list of threat model ids")
        return None
    ids: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not _ID.match(item):
            f.add(join("threat_models", i), "must be a threat model id (the file name without .md)")
        elif item in ids:
            f.add(join("threat_models", i), f"{item!r} listed twice")
        else:
            ids.append(item)
    return tuple(ids) if len(ids) == len(raw) else None
