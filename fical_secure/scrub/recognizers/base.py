"""Base class of the clinical recognizers: data as class constants, Presidio style.

A subclass declares ``ENTITY`` (the placeholder type), ``PATTERNS`` as
``(name, regex, score)`` rows and ``CONTEXT`` words; the base turns them into a
Presidio :class:`PatternRecognizer`. Presidio matches with ``re.IGNORECASE``
(``regex`` module), so a pattern that needs case uses a scoped ``(?-i:...)``.
Strong context ("MRN", "DOB", "fax") is written into the regex as a
variable-width look-behind, which the ``regex`` module supports: the match is
then only the value, and the evidence does not depend on Presidio's context
window. ``CONTEXT`` still feeds Presidio's context enhancer for weak patterns.
"""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer

# Separator between a label and its value: "MRN: 123", "MRN #123", "mrn=\"MRN-1\"".
# One bounded class, not a chain of \s*: chained runs inside a look-behind backtrack
# polynomially on long blank runs (a discharge note took minutes).
LABEL_SEP = r"(?:\s{0,3}(?:number|num|no\.?|nbr|id)\b)?[\s:#=\"'.]{0,6}"


def after_label(labels: str, value: str) -> str:
    """Regex matching ``value`` only when a label from ``labels`` stands right before it."""
    return rf"(?<=\b(?:{labels}){LABEL_SEP}){value}"


class ClinicalPatternRecognizer(PatternRecognizer):
    """A pattern recognizer whose patterns and context are class constants."""

    ENTITY: ClassVar[str] = ""
    PATTERNS: ClassVar[tuple[tuple[str, str, float], ...]] = ()
    CONTEXT: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: list[str] | None = None, supported_language: str = "en") -> None:
        """Build the recognizer; ``context`` replaces the class's context words when given."""
        patterns = [Pattern(name, regex, score) for name, regex, score in self.PATTERNS]
        super().__init__(
            supported_entity=self.ENTITY,
            name=type(self).__name__,
            supported_language=supported_language,
            patterns=patterns,
            context=list(self.CONTEXT) if context is None else context,
        )
