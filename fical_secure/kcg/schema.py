"""The knowledge compendium: typed, versioned, canonical JSON.

A compendium holds natural-language knowledge about tools (what a tool is for,
argument conventions, usage patterns, pitfalls) and tool signatures induced
from observed calls. It never holds raw record values. Global compendiums keep
provenance only as counts (``support``: how many clients contributed an entry).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast, get_args

from fical_secure.data.schema import TOOL_NAME
from fical_secure.errors import SchemaError, UntrustedInputError
from fical_secure.jsontypes import JsonObject
from fical_secure.untrusted import loads_bounded

SCHEMA_VERSION = 1
EntryKind = Literal["purpose", "arguments", "usage", "pitfall"]
ENTRY_KINDS: tuple[str, ...] = get_args(EntryKind)
MAX_ENTRY_CHARS = 400


@dataclass(frozen=True)
class Entry:
    """One piece of knowledge about one tool."""

    tool: str
    kind: EntryKind
    text: str
    support: int = 1

    @property
    def entry_id(self) -> str:
        """Content id: stable across clients for identical (tool, kind, text)."""
        raw = json.dumps([self.tool, self.kind, self.text], ensure_ascii=False)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]

    def render(self) -> str:
        """Text used for retrieval and prompting."""
        return f"[{self.tool}] {self.kind}: {self.text}"


@dataclass(frozen=True)
class ToolSignature:
    """Argument names and types of a tool, induced from observed calls."""

    tool: str
    args: tuple[tuple[str, str], ...]  # (name, type) in call order


@dataclass(frozen=True)
class Compendium:
    """A client's (or the global) knowledge compendium."""

    owner: str  # client id, or "global"
    entries: tuple[Entry, ...]
    signatures: tuple[ToolSignature, ...] = ()
    version: int = SCHEMA_VERSION
    meta: JsonObject = field(default_factory=dict)  # e.g. model name, n_episodes

    def tools(self) -> tuple[str, ...]:
        return tuple(sorted({e.tool for e in self.entries} | {s.tool for s in self.signatures}))

    def with_entries(self, entries: tuple[Entry, ...]) -> Compendium:
        return replace(self, entries=entries)

    # --- canonical encoding -------------------------------------------------
    def to_dict(self) -> JsonObject:
        return {
            "version": self.version,
            "owner": self.owner,
            "entries": [
                {"tool": e.tool, "kind": e.kind, "text": e.text, "support": e.support}
                for e in sorted(self.entries, key=lambda e: (e.tool, e.kind, e.text))
            ],
            "signatures": [
                {"tool": s.tool, "args": [list(a) for a in s.args]}
                for s in sorted(self.signatures, key=lambda s: s.tool)
            ],
            "meta": self.meta,
        }

    def to_json(self) -> str:
        """Canonical JSON: sorted keys and entries, no whitespace, UTF-8."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def to_bytes(self) -> bytes:
        return self.to_json().encode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> Compendium:
        """Parse and validate canonical (or any well-formed) compendium JSON.

        Decoding is bounded (size, nesting depth, number literals: see
        :mod:`fical_secure.untrusted`), since compendiums arrive from other parties.

        Raises:
            SchemaError: on malformed or oversized JSON, unknown version or invalid fields.
        """
        try:
            raw = loads_bounded(text)
        except UntrustedInputError as exc:
            raise SchemaError(f"compendium is not acceptable JSON: {exc}") from exc
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> Compendium:
        if not isinstance(raw, dict):
            raise SchemaError("compendium must be a JSON object")
        if raw.get("version") != SCHEMA_VERSION:
            raise SchemaError(
                f"unsupported compendium version {raw.get('version')!r}; expected {SCHEMA_VERSION}"
            )
        owner = raw.get("owner")
        if not isinstance(owner, str) or not owner:
            raise SchemaError("compendium 'owner' must be a non-empty string")
        entries = tuple(_parse_entry(e, i) for i, e in enumerate(_list(raw, "entries")))
        sigs = tuple(_parse_signature(s, i) for i, s in enumerate(_list(raw, "signatures")))
        meta = raw.get("meta", {})
        if not isinstance(meta, dict):
            raise SchemaError("compendium 'meta' must be an object")
        return cls(owner=owner, entries=entries, signatures=sigs, meta=meta)


def _list(raw: JsonObject, key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise SchemaError(f"compendium '{key}' must be a list")
    return value


def validate_entry(tool: str, kind: str, text: str, support: int = 1) -> Entry:
    """Build an :class:`Entry`, checking every field.

    Raises:
        SchemaError: empty or over-long text, unknown kind, bad support.
    """
    if not isinstance(tool, str) or not TOOL_NAME.fullmatch(tool):
        raise SchemaError(f"entry tool {str(tool)[:80]!r} is not a tool name")
    if kind not in ENTRY_KINDS:
        raise SchemaError(f"entry kind {kind!r} is not one of {ENTRY_KINDS}")
    if not isinstance(text, str) or not text.strip():
        raise SchemaError("entry text must be a non-empty string")
    if len(text) > MAX_ENTRY_CHARS:
        raise SchemaError(f"entry text longer than {MAX_ENTRY_CHARS} characters")
    if isinstance(support, bool) or not isinstance(support, int) or support < 1:
        raise SchemaError("entry support must be a positive integer")
    return Entry(tool=tool, kind=cast(EntryKind, kind), text=text.strip(), support=support)


def _parse_entry(raw: Any, index: int) -> Entry:
    if not isinstance(raw, dict):
        raise SchemaError(f"entry {index} must be an object")
    try:
        # untrusted values, typed Any: validate_entry checks every field's type
        tool: Any = raw.get("tool")
        kind: Any = raw.get("kind")
        text: Any = raw.get("text")
        support: Any = raw.get("support", 1)
        return validate_entry(tool, kind, text, support)
    except SchemaError as exc:
        raise SchemaError(f"entry {index}: {exc}") from exc


def _parse_signature(raw: Any, index: int) -> ToolSignature:
    if not isinstance(raw, dict) or not isinstance(raw.get("tool"), str):
        raise SchemaError(f"signature {index} must be an object with a 'tool'")
    args = raw.get("args", [])
    if not isinstance(args, list) or not all(
        isinstance(a, list) and len(a) == 2 and all(isinstance(x, str) for x in a) for a in args
    ):
        raise SchemaError(f"signature {index}: 'args' must be a list of [name, type] pairs")
    return ToolSignature(tool=raw["tool"], args=tuple((a[0], a[1]) for a in args))
