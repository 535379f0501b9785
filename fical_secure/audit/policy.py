"""Audit policy (thresholds) and the validator that checks an audit against it.

The validator collects every finding and returns them all; ``strict=True``
raises :class:`GateBlockedError` instead, listing them. Policies load from
YAML profiles (``fical_secure/compliance/profiles/*.yaml``) and are schema-checked before use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from fical_secure.audit.auditor import AuditResult
from fical_secure.errors import ConfigError, GateBlockedError

Statistic = Literal["point", "ci_low", "ci_high"]


@dataclass(frozen=True)
class AuditPolicy:
    """Release thresholds, and how the gate may remediate before it blocks.

    ``statistic`` chooses what is compared with ``max_auc`` and
    ``max_tpr_at_1pct_fpr``: the point estimate, or the low / high end of
    the bootstrap CI. ``ci_high`` is the cautious choice with many records;
    with ~40 records a side the CI is wide and ``point`` is the usual one.
    """

    max_auc: float = 0.65
    max_tpr_at_1pct_fpr: float = 0.25
    max_canary_exposure_bits: float = 8.0
    max_pii_hits: int = 0  # verbatim or fuzzy PII / canary hits allowed in a release
    statistic: Statistic = "point"
    # a figure over its limit counts only if its bootstrap CI also excludes chance
    # (AUC 0.5, TPR = FPR): with ~16-40 records a side, chance alone often exceeds 0.65
    require_significance: bool = True
    attacks: tuple[str, ...] = ()  # attacks that count; empty: every attack that ran
    entry_margin: float = 0.1  # an entry this much closer to a member than any non-member...
    entry_min_similarity: float = 0.6  # ...and at least this close to it, is leaking;
    entry_run_margin: int = 8  # so is one sharing this many more consecutive words with a member
    max_drop_fraction: float = 0.5  # block rather than release less than half the entries
    max_rounds: int = 3

    def __post_init__(self) -> None:
        for name in ("max_auc", "max_tpr_at_1pct_fpr", "max_drop_fraction"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ConfigError(f"policy {name} must lie in [0, 1]")
        if self.statistic not in ("point", "ci_low", "ci_high"):
            raise ConfigError("policy statistic must be 'point', 'ci_low' or 'ci_high'")
        if self.max_pii_hits < 0 or self.max_rounds < 1 or self.max_canary_exposure_bits < 0:
            raise ConfigError("max_pii_hits and max_canary_exposure_bits >= 0, max_rounds >= 1")

    @classmethod
    def from_dict(cls, raw: Any) -> AuditPolicy:
        """Build a policy from a mapping, refusing unknown keys and wrong types.

        Raises:
            ConfigError: not a mapping, unknown key, wrong type or out-of-range value.
        """
        if not isinstance(raw, dict):
            raise ConfigError("an audit policy must be a mapping of threshold names to values")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ConfigError(f"unknown policy keys {unknown}; known: {sorted(known)}")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            default = getattr(cls(), key)
            if isinstance(default, tuple):
                if not isinstance(value, list | tuple) or not all(
                    isinstance(v, str) for v in value
                ):
                    raise ConfigError(f"policy {key} must be a list of attack names")
                value = tuple(value)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"policy {key} must be true or false")
            elif isinstance(default, int) and not isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ConfigError(f"policy {key} must be an integer")
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ConfigError(f"policy {key} must be a number")
                value = float(value)
            elif not isinstance(value, str):
                raise ConfigError(f"policy {key} must be a string")
            values[key] = value
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path) -> AuditPolicy:
        """Raises: ConfigError: unreadable file, bad YAML, or an invalid policy."""
        import yaml

        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read audit policy {path}: {exc}") from exc
        return cls.from_dict(raw)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["attacks"] = list(self.attacks)
        return out


@dataclass(frozen=True)
class Finding:
    """One policy violation, with the measured figure and the limit it broke."""

    code: Literal["auc", "tpr_at_1pct_fpr", "canary_exposure", "pii"]
    subject: str  # attack name, canary episode id, or item id
    measured: float
    limit: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stat(point: float, low: float, high: float, statistic: Statistic) -> float:
    return {"point": point, "ci_low": low, "ci_high": high}[statistic]


def check_policy(result: AuditResult, policy: AuditPolicy) -> list[Finding]:
    """Every way ``result`` breaks ``policy`` (an empty list means it passes)."""
    findings: list[Finding] = []
    for name, res in sorted(result.attacks.items()):
        if policy.attacks and name not in policy.attacks:
            continue
        m = res.metrics
        auc = _stat(m.auc, m.auc_ci.low, m.auc_ci.high, policy.statistic)
        significant = not policy.require_significance or m.auc_ci.low > 0.5
        if auc > policy.max_auc and significant:
            findings.append(
                Finding(
                    "auc",
                    name,
                    auc,
                    policy.max_auc,
                    f"{name}: membership AUC {auc:.3f} > {policy.max_auc}",
                )
            )
        tpr = _stat(
            m.tpr_at_1pct.value, m.tpr_at_1pct_ci.low, m.tpr_at_1pct_ci.high, policy.statistic
        )
        significant = not policy.require_significance or m.tpr_at_1pct_ci.low > 0.01
        if tpr > policy.max_tpr_at_1pct_fpr and significant:
            findings.append(
                Finding(
                    "tpr_at_1pct_fpr",
                    name,
                    tpr,
                    policy.max_tpr_at_1pct_fpr,
                    f"{name}: TPR@1%FPR {tpr:.3f} > {policy.max_tpr_at_1pct_fpr}",
                )
            )
    for canary in result.canaries:
        if canary.exposure_bits > policy.max_canary_exposure_bits:
            findings.append(
                Finding(
                    "canary_exposure",
                    canary.episode_id,
                    canary.exposure_bits,
                    policy.max_canary_exposure_bits,
                    f"canary of {canary.episode_id}: exposure {canary.exposure_bits:.1f} bits",
                )
            )
    if len(result.pii_hits) > policy.max_pii_hits:
        for hit in result.pii_hits:
            findings.append(
                Finding(
                    "pii",
                    hit.item_id,
                    1.0,
                    float(policy.max_pii_hits),
                    f"{hit.kind} of {hit.episode_id} found ({hit.match}) in item {hit.item_id}",
                )
            )
    return findings


def validate(result: AuditResult, policy: AuditPolicy, *, strict: bool = False) -> list[Finding]:
    """All findings of ``result`` against ``policy``.

    Raises:
        GateBlockedError: ``strict`` and at least one finding (all are listed).
    """
    findings = check_policy(result, policy)
    if strict and findings:
        raise GateBlockedError(
            f"audit of {result.client_id} failed {len(findings)} check(s): "
            + "; ".join(f.message for f in findings)
            + ". Remove the leaking entries (see the attribution) or regenerate the compendium."
        )
    return findings
