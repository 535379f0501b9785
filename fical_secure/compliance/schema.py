"""A tiny validator that collects every finding in a parsed YAML tree, with its path.

Audit profiles and client configurations are checked completely before
anything runs: each problem is recorded as ``"<path>: <what is wrong>"``
(``thresholds.max_mi_auc: must be a number in [0.5, 1]``) and the caller
raises one :class:`~fical_secure.errors.ConfigError` listing them all, so an
operator fixes a file in one pass and a typo can never silently relax a check.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from fical_secure.jsontypes import JsonObject


def join(path: str, key: str | int) -> str:
    """Child path: ``a.b`` for keys, ``a[3]`` for list indices."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Findings:
    """Accumulates schema problems; each check returns the value when valid, else ``None``."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path or '<root>'}: {message}")

    def mapping(
        self, raw: Any, path: str, *, required: Collection[str], optional: Collection[str] = ()
    ) -> JsonObject | None:
        """A mapping with exactly the allowed keys; reports missing and unknown keys."""
        if not isinstance(raw, dict):
            self.add(path, f"must be a mapping, got {_kind(raw)}")
            return None
        allowed = set(required) | set(optional)
        for key in raw:
            if not isinstance(key, str) or key not in allowed:
                self.add(
                    join(path, str(key)), f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )
        for key in sorted(set(required) - set(raw)):
            self.add(join(path, key), "missing")
        return raw

    def number(self, raw: Any, path: str, low: float, high: float) -> float | None:
        """A finite int or float in ``[low, high]`` (booleans are not numbers)."""
        ok = isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw)
        if not ok or not low <= float(raw) <= high:
            self.add(path, f"must be a number in [{_fmt(low)}, {_fmt(high)}]")
            return None
        return float(raw)

    def integer(self, raw: Any, path: str, low: int, high: int) -> int | None:
        """An int (not a bool) in ``[low, high]``."""
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            self.add(path, f"must be an integer in [{low}, {high}]")
            return None
        return raw

    def boolean(self, raw: Any, path: str) -> bool | None:
        if not isinstance(raw, bool):
            self.add(path, f"must be true or false, got {_kind(raw)}")
            return None
        return raw

    def string(self, raw: Any, path: str) -> str | None:
        """A non-empty string."""
        if not isinstance(raw, str) or not raw.strip():
            self.add(path, f"must be a non-empty string, got {_kind(raw)}")
            return None
        return raw

    def choice(self, raw: Any, path: str, allowed: Collection[str]) -> str | None:
        """One of ``allowed``."""
        if not isinstance(raw, str) or raw not in allowed:
            self.add(path, f"must be one of {', '.join(sorted(allowed))}; got {raw!r}")
            return None
        return raw

    def choices(
        self, raw: Any, path: str, allowed: Collection[str], *, non_empty: bool = True
    ) -> tuple[str, ...] | None:
        """A list of distinct members of ``allowed`` (each bad item reported by index)."""
        if not isinstance(raw, list) or (non_empty and not raw):
            self.add(path, "must be a non-empty list" if non_empty else "must be a list")
            return None
        good: list[str] = []
        for i, item in enumerate(raw):
            value = self.choice(item, join(path, i), allowed)
            if value is not None and value in good:
                self.add(join(path, i), f"{value!r} listed twice")
            elif value is not None:
                good.append(value)
        return tuple(good) if len(good) == len(raw) else None


def _kind(raw: Any) -> str:
    return "nothing" if raw is None else type(raw).__name__


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
