"""A client's notes beside its reply: its claimed id and its gate figures.

The server copies them into ``round.json`` as the client's own account; it
never names or routes by them (clients are named by their authenticated key
id). Notes come from another party, so :meth:`ClientNotes.decode` parses them
as hostile bytes: bounded JSON, an object of exactly the expected shape, or
one :class:`MessageFormatError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from fical_secure.errors import MessageFormatError, UntrustedInputError
from fical_secure.flower.wire import MAX_NOTES_BYTES
from fical_secure.jsontypes import JsonObject, JsonValue
from fical_secure.untrusted import JsonLimits, loads_bounded

NOTES_LIMITS: Final = JsonLimits(max_bytes=MAX_NOTES_BYTES)
MAX_CLAIMED_ID: Final = 64
FIELDS: Final = frozenset({"client_id", "report"})


def _finite(value: JsonValue) -> JsonValue:
    """``value`` with every non-finite float as ``None``: notes are strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@dataclass(frozen=True)
class ClientNotes:
    """What a client says about its own release: who it claims to be, its gate report."""

    client_id: str
    report: JsonObject = field(default_factory=dict)

    def encode(self) -> bytes:
        """Strict JSON (no NaN); a value JSON cannot hold is written as its text."""
        body = {"client_id": self.client_id, "report": _finite(self.report)}
        return json.dumps(body, allow_nan=False, default=str).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> ClientNotes:
        """Parse a peer's notes.

        Raises:
            MessageFormatError: not bounded, strict JSON, or not an object with
                only a short string ``client_id`` and an object ``report``.
        """
        try:
            raw = loads_bounded(data, NOTES_LIMITS)
        except UntrustedInputError as exc:
            raise MessageFormatError(f"notes: {exc}") from None
        if not isinstance(raw, dict) or not set(raw) <= FIELDS:
            raise MessageFormatError("notes must be an object with client_id and report only")
        claimed, report = raw.get("client_id", ""), raw.get("report", {})
        if not isinstance(claimed, str) or len(claimed) > MAX_CLAIMED_ID:
            raise MessageFormatError(f"notes.client_id must be a string of <= {MAX_CLAIMED_ID}")
        if not isinstance(report, dict):
            raise MessageFormatError("notes.report must be an object")
        return cls(claimed, report)
