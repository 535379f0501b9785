"""Result types of the PII scrubber (light: no Presidio import).

Offsets always index the ORIGINAL text a caller passed in, never the scrubbed
one, so a caller can audit exactly which characters were replaced.
"""

from __future__ import annotations

from dataclasses import dataclass

from fical_secure.jsontypes import JsonObject


@dataclass(frozen=True, order=True)
class Span:
    """One detected entity: its type and ``[start, end)`` character offsets with a score."""

    start: int
    end: int
    type: str
    score: float

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(
                f"span offsets must satisfy 0 <= start < end, got {self.start}, {self.end}"
            )

    def overlaps(self, other: Span) -> bool:
        """True when the two spans share at least one character."""
        return self.start < other.end and other.start < self.end

    @property
    def length(self) -> int:
        return self.end - self.start

    def to_json(self) -> JsonObject:
        """JSON form used by the CLI: ``{"type", "start", "end", "score"}``."""
        return {
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class ScrubResult:
    """A scrubbed text and the entities replaced in it (offsets into the original text)."""

    scrubbed: str
    entities: list[Span]


@dataclass(frozen=True)
class Refusal:
    """A record the scrubber would not release, and why (the reason never quotes the text).

    ``kinds`` lists the entity types the last scan still found, when that was the cause;
    ``analyzer_failed`` tells a crash of the analyzer or anonymizer from PII left over.
    """

    reason: str
    kinds: tuple[str, ...] = ()
    analyzer_failed: bool = False

    def to_json(self) -> JsonObject:
        """JSON form used in quarantine files: ``{"reason", "kinds"}``."""
        return {"reason": self.reason, "kinds": list(self.kinds)}


ScrubOutcome = ScrubResult | Refusal
