"""Compliance audits: profiles (YAML thresholds), configuration checks, reports."""
