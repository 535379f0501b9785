"""Server-side aggregation of verified compendiums (pure functions)."""

from fical_secure.aggregate.intake import GLOBAL_OWNER, Intake, accept_payloads, attribute
from fical_secure.aggregate.merge import TextEncoder, aggregate, merge_signatures

__all__ = [
    "GLOBAL_OWNER",
    "Intake",
    "TextEncoder",
    "accept_payloads",
    "aggregate",
    "attribute",
    "merge_signatures",
]
