"""The compendium schema: canonical JSON, strict validation with clear errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fical_secure.errors import SchemaError
from fical_secure.kcg.schema import (
    ENTRY_KINDS,
    MAX_ENTRY_CHARS,
    SCHEMA_VERSION,
    Compendium,
    Entry,
    ToolSignature,
)


def _valid() -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "owner": "h01",
        "entries": [
            {"tool": "bmi_calculator", "kind": "purpose", "text": "Computes BMI.", "support": 1}
        ],
        "signatures": [{"tool": "bmi_calculator", "args": [["weight_kg", "float"]]}],
        "meta": {},
    }


def test_round_trip_is_canonical_and_order_independent() -> None:
    a = Compendium(
        owner="h01",
        entries=(Entry("b_tool", "usage", "x"), Entry("a_tool", "pitfall", "y")),
        signatures=(ToolSignature("b_tool", (("n", "int"),)), ToolSignature("a_tool", ())),
    )
    b = Compendium(
        owner="h01", entries=tuple(reversed(a.entries)), signatures=tuple(reversed(a.signatures))
    )
    assert a.to_bytes() == b.to_bytes()
    assert Compendium.from_json(a.to_json()).to_json() == a.to_json()
    assert " " not in a.to_json().replace("\n", "")[:20]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version=2), "unsupported compendium version"),
        (lambda d: d.pop("version"), "unsupported compendium version"),
        (lambda d: d.update(owner=""), "owner"),
        (lambda d: d.update(entries={}), "'entries' must be a list"),
        (lambda d: d["entries"].append("text"), "entry 1 must be an object"),
        (lambda d: d["entries"][0].update(kind="gossip"), "entry 0: entry kind"),
        (lambda d: d["entries"][0].update(tool="not a tool"), "not a tool name"),
        (lambda d: d["entries"][0].update(text="   "), "non-empty"),
        (lambda d: d["entries"][0].update(text="x" * (MAX_ENTRY_CHARS + 1)), "longer than"),
        (lambda d: d["entries"][0].update(support=0), "positive integer"),
        (lambda d: d["entries"][0].update(support=True), "positive integer"),
        (lambda d: d["signatures"][0].update(args=[["a"]]), "[name, type] pairs"),
        (lambda d: d["signatures"].append({"args": []}), "signature 1"),
        (lambda d: d.update(meta=[]), "'meta' must be an object"),
    ],
)
def test_invalid_compendium_is_rejected_with_a_named_field(mutate: Any, message: str) -> None:
    raw = _valid()
    mutate(raw)
    with pytest.raises(SchemaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Compendium.from_json(json.dumps(raw))


@pytest.mark.parametrize(
    "blob", [b"", b"{", b"\xff\xfe", b"[]", b"null", b'"x"', b'{"version": 1}']
)
def test_garbage_bytes_raise_schema_error(blob: bytes) -> None:
    with pytest.raises(SchemaError):
        Compendium.from_json(blob)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_schema_error(blob: bytes) -> None:
    try:
        Compendium.from_json(blob)
    except SchemaError:
        pass


def test_entry_kinds_are_the_four_kinds_of_knowledge() -> None:
    assert set(ENTRY_KINDS) == {"purpose", "arguments", "usage", "pitfall"}
