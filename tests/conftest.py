"""Fixtures shared across test modules."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # torch stays unimported until a test asks for the model
    from fical_secure.llm.transformers_backend import TransformersLLM

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # test tooling shared with the benchmarks lives in benchmarks/
    sys.path.insert(0, str(ROOT))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under mutmut (``make mutation``), fastest tests first: a mutant dies at its cheapest test.

    mutmut runs each mutant with ``-x`` over every test that reaches it; its own
    timings of each test (``mutants/mutmut-stats.json``) order them.
    """
    stats = ROOT / "mutmut-stats.json"
    if not os.environ.get("MUTANT_UNDER_TEST") or not stats.is_file():
        return
    durations: dict[str, float] = json.loads(stats.read_text()).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))


@pytest.fixture(scope="session")
def llm() -> TransformersLLM:
    """The packaged SmolLM2-135M through the transformers backend, loaded once per run."""
    from fical_secure.llm.loader import load_llm
    from fical_secure.llm.transformers_backend import TransformersLLM

    model = load_llm()
    assert isinstance(model, TransformersLLM)
    return model
