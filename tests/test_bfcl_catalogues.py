"""Every function doc BFCL ships loads through the catalogue loader, unfiltered.

BFCL's data is read from the installed ``bfcl-eval`` wheel's files (never
imported; ``make setup`` installs it): the function lists of every question
file and the multi-turn categories' function docs. Each distinct spec is
loaded in BFCL's own format, dialect and all.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from fical_secure.data.function_spec import catalogue_from_json
from fical_secure.data.schema import ToolCall
from fical_secure.data.validation import call_problems
from fical_secure.errors import DataError


def _data_dir() -> Path | None:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


DATA = _data_dir()
needs_bfcl = pytest.mark.skipif(DATA is None, reason="bfcl-eval is not installed (make setup)")


def _function_docs(data: Path) -> dict[str, list[dict[str, Any]]]:
    """Distinct function specs per BFCL category (file)."""
    docs: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(data.glob("BFCL_v4_*.json")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0].startswith('{"id"'):
            continue  # format_sensitivity lists question ids, not functions
        for line in lines:
            for raw in json.loads(line).get("function", []):
                docs.setdefault(path.stem, {})[json.dumps(raw, sort_keys=True)] = raw
    for path in sorted((data / "multi_turn_func_doc").glob("*.json")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                docs.setdefault(f"multi_turn/{path.stem}", {})[line] = json.loads(line)
    return {category: list(specs.values()) for category, specs in docs.items()}


@needs_bfcl
def test_every_bfcl_category_loads_with_none_refused() -> None:
    assert DATA is not None
    docs = _function_docs(DATA)
    assert (
        len(docs) >= 25 and "BFCL_v4_live_multiple" in docs and "multi_turn/vehicle_control" in docs
    )
    refused: list[str] = []
    loaded = 0
    for category, specs in docs.items():
        for raw in specs:
            try:
                (tool,) = catalogue_from_json([raw], where=category)
            except DataError as exc:
                refused.append(str(exc)[:300])
                continue
            loaded += 1
            assert tool.name == raw["name"]  # dotted names kept as written
    assert refused == []
    assert loaded == sum(len(specs) for specs in docs.values()) > 3000


@needs_bfcl
def test_bfcl_arrays_objects_and_dotted_names_are_typed_and_checked() -> None:
    assert DATA is not None
    docs = _function_docs(DATA)["BFCL_v4_live_simple"]
    raw = next(d for d in docs if d["name"] == "uber.eat.order")
    (tool,) = catalogue_from_json([raw])
    items = tool.arg("items")
    assert items.type == "array" and items.items is not None and items.items.type == "str"
    good = ToolCall(
        tool.name, {"restaurant": "McDonald's", "items": ["burgers"], "quantities": [5]}
    )
    assert call_problems(good, [tool]) == []
    bad = ToolCall(tool.name, {"restaurant": "McDonald's", "items": "burgers", "quantities": [5.5]})
    problems = call_problems(bad, [tool])
    assert any("'items' must be an array" in p for p in problems)
    assert any("'quantities[0]' must be an integer" in p for p in problems)
    assert all("burgers" not in p and "5.5" not in p for p in problems)  # no values in messages
