"""Server-side aggregation of verified compendiums (pure functions)."""

from fical_secure.aggregate.merge import GLOBAL_OWNER, TextEncoder, aggregate, merge_signatures

__all__ = ["GLOBAL_OWNER", "TextEncoder", "aggregate", "merge_signatures"]
