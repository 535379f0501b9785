"""The unit of an audit verdict: one named check, pass or fail, with its evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fical_secure.jsontypes import JsonObject


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check.

    ``evidence`` is JSON-serialisable and never holds a secret or a PII value
    (reports travel further than the data). ``threat_models`` names the
    adversaries (ids of ``threat_models/*.md``) whose mitigation it verifies.
    """

    check_id: str
    title: str
    passed: bool
    summary: str
    evidence: JsonObject = field(default_factory=dict)
    threat_models: tuple[str, ...] = ()
    remedy: str = ""  # what to do when it fails (empty when it passes)

    def to_dict(self) -> JsonObject:
        return {
            "id": self.check_id,
            "title": self.title,
            "passed": self.passed,
            "summary": self.summary,
            "evidence": self.evidence,
            "threat_models": list(self.threat_models),
            "remedy": self.remedy,
        }


def failed(checks: Sequence[CheckResult]) -> list[CheckResult]:
    """The checks that did not pass, in order."""
    return [c for c in checks if not c.passed]
