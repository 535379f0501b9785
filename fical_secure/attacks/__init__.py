"""Leakage baselines for researchers: sample sharing vs compendium sharing, extraction.

:func:`run_leakage_suite` audits both release methods of the same clients in
the same record-membership game and runs the same extraction targets against
both, so their figures compare directly.
"""

from fical_secure.attacks.extraction import ExtractionResult, extraction_attack, extraction_targets
from fical_secure.attacks.sample_sharing import sample_sharing
from fical_secure.attacks.suite import run_leakage_suite

__all__ = [
    "ExtractionResult",
    "extraction_attack",
    "extraction_targets",
    "run_leakage_suite",
    "sample_sharing",
]
