"""Bounded JSON decoding for bytes that come from another party.

``json.loads`` on hostile input can raise ``RecursionError`` (deep nesting),
``ValueError`` (an integer of more than 4300 digits) or spend memory without
bound; none of that may escape a protocol stage. :func:`loads_bounded` checks
size and nesting depth *before* parsing, bounds integer and float literals
while parsing, refuses NaN and Infinity, and raises one typed error.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Final

from fical_secure.errors import UntrustedInputError

_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET: Final = re.compile(rb"[\[\]{}]")


@dataclass(frozen=True)
class JsonLimits:
    """What a decoder accepts from an untrusted party."""

    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 32
    max_number_chars: int = 32


DEFAULT_LIMITS: Final = JsonLimits()


def _depth(data: bytes) -> int:
    """Deepest ``[``/``{`` nesting outside string literals (linear: C regex, then one pass)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_bounded(data: bytes | str, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """Parse untrusted JSON within ``limits``.

    Raises:
        UntrustedInputError: too large, too deeply nested, a number literal
            longer than allowed, NaN/Infinity, invalid UTF-8 or invalid JSON.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > limits.max_bytes:
        raise UntrustedInputError(f"payload of {len(raw)} bytes exceeds {limits.max_bytes}")
    depth = _depth(raw)
    if depth > limits.max_depth:
        raise UntrustedInputError(f"payload nests {depth} levels deep; at most {limits.max_depth}")

    def number(text: str, kind: type[int] | type[float]) -> int | float:
        if len(text) > limits.max_number_chars:
            raise UntrustedInputError(f"number literal of {len(text)} characters")
        value = kind(text)
        if isinstance(value, float) and not math.isfinite(value):
            raise UntrustedInputError("non-finite number")
        return value

    def constant(name: str) -> Any:
        raise UntrustedInputError(f"{name} is not JSON")

    try:
        return json.loads(
            raw.decode("utf-8"),
            parse_int=lambda t: number(t, int),
            parse_float=lambda t: number(t, float),
            parse_constant=constant,
        )
    except UnicodeDecodeError:
        raise UntrustedInputError("payload is not valid UTF-8") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        if isinstance(exc, UntrustedInputError):
            raise
        raise UntrustedInputError(f"payload is not valid JSON: {exc}") from None
