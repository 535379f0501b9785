"""fical_secure.kcg: the knowledge compendium and its generation from local episodes."""

from fical_secure.kcg.builder import KCGConfig, KCGResult, KCGStats, build_compendium, run_kcg

__all__ = ["KCGConfig", "KCGResult", "KCGStats", "build_compendium", "run_kcg"]
