"""Recognizer of the planted canaries (Carlini et al.'s Secret Sharer).

The data generator plants ``canary xxxx-xxxx-xxxx`` (48 random hex bits, see
``fical_secure.data.pii.CANARY_PATTERN``). The secret alone is masked too: a
model or a clinician may repeat it without its prefix.
"""

from __future__ import annotations

from fical_secure.scrub.recognizers.base import ClinicalPatternRecognizer

_CANARY_DIGITS = r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}"


class CanaryRecognizer(ClinicalPatternRecognizer):
    """Canaries: ``canary 7f3a-91c2-55de``, and the bare secret ``7f3a-91c2-55de``."""

    ENTITY = "CANARY"
    PATTERNS = (
        ("canary with prefix", rf"\bcanary[\s:_-]*{_CANARY_DIGITS}\b", 0.95),
        ("canary secret", rf"\b{_CANARY_DIGITS}\b", 0.85),
    )
    CONTEXT = ("canary", "secret")
