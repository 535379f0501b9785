"""fical-secure: privacy-hardened federated in-context LLM agent learning (FICAL)."""

__version__ = "0.1.0"
