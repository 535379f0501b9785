"""Fixtures shared across test modules."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # torch stays unimported until a test asks for the model
    from fical_secure.llm.transformers_backend import TransformersLLM

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # test tooling shared with the benchmarks lives in benchmarks/
    sys.path.insert(0, str(ROOT))


_SPAWNED = [0]  # processes started: subprocess, multiprocessing (fork_exec), os.fork
_SPAWN_START = pytest.StashKey[int]()


def _counting(start: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        _SPAWNED[0] += 1
        return start(*args, **kwargs)

    return counted


def pytest_configure(config: pytest.Config) -> None:
    """Count every process a test starts, so that the ``process`` tier cannot drift."""
    import _posixsubprocess
    import subprocess

    subprocess.Popen._execute_child = _counting(subprocess.Popen._execute_child)  # type: ignore[attr-defined]
    _posixsubprocess.fork_exec = _counting(_posixsubprocess.fork_exec)  # multiprocessing
    os.fork = _counting(os.fork)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_SPAWN_START] = _SPAWNED[0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A test that started a process (in its fixtures too) fails unless marked ``process``.

    ``make test-fast`` deselects that tier, so a mark missing would make it slow
    or flaky; this keeps the mark true (``make test`` runs every tier).
    """
    outcome = yield
    report = outcome.get_result()
    started = _SPAWNED[0] - item.stash.get(_SPAWN_START, _SPAWNED[0])
    if (
        call.when == "teardown"
        and started
        and report.passed
        and item.get_closest_marker("process") is None
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} started {started} process(es) but is not marked "
            "@pytest.mark.process (the tier `make test-fast` leaves out)"
        )


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


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Torch on one thread for the tests of a module that asks for it; restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def llm() -> TransformersLLM:
    """The packaged SmolLM2-135M through the transformers backend, loaded once per run."""
    from fical_secure.llm.loader import load_llm
    from fical_secure.llm.transformers_backend import TransformersLLM

    model = load_llm()
    assert isinstance(model, TransformersLLM)
    return model
