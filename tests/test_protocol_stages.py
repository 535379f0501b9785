"""The stage enum and its single transition table."""

from __future__ import annotations

import itertools

import pytest

from fical_secure.errors import StageError
from fical_secure.protocol.stages import (
    TERMINAL,
    TRANSITIONS,
    Stage,
    check_transition,
    require_stage,
)

LEGAL = {
    (Stage.OPEN, Stage.COLLECTING),
    (Stage.COLLECTING, Stage.AGGREGATING),
    (Stage.AGGREGATING, Stage.DONE),
    (Stage.OPEN, Stage.ABORTED),
    (Stage.COLLECTING, Stage.ABORTED),
    (Stage.AGGREGATING, Stage.ABORTED),
}


def test_stage_codes_are_stable_wire_values() -> None:
    assert [(s.name, int(s)) for s in Stage] == [
        ("OPEN", 1),
        ("COLLECTING", 2),
        ("AGGREGATING", 3),
        ("DONE", 4),
        ("ABORTED", 5),
    ]


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(Stage, Stage)))
def test_only_the_table_transitions_are_legal(src: Stage, dst: Stage) -> None:
    if (src, dst) in LEGAL:
        assert check_transition(src, dst) is dst
    else:
        with pytest.raises(StageError, match="illegal stage transition"):
            check_transition(src, dst)


def test_terminal_stages_have_no_way_out() -> None:
    assert {s for s in Stage if not TRANSITIONS[s]} == set(TERMINAL)


def test_every_live_stage_can_abort() -> None:
    assert all(Stage.ABORTED in TRANSITIONS[s] for s in Stage if s not in TERMINAL)


@pytest.mark.parametrize("code", [0, 6, 255])
def test_unknown_stage_code_is_a_stage_error(code: int) -> None:
    with pytest.raises(StageError):
        Stage.from_code(code)


def test_require_stage_names_what_was_expected() -> None:
    require_stage(Stage.COLLECTING, Stage.COLLECTING)
    with pytest.raises(StageError, match="round is DONE; this needs COLLECTING"):
        require_stage(Stage.DONE, Stage.COLLECTING)


@pytest.mark.process
def test_protocol_package_imports_nothing_heavy_and_no_cryptography_directly() -> None:
    import ast
    import subprocess
    import sys
    from pathlib import Path

    package = Path(__file__).parents[1] / "fical_secure" / "protocol"
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] in {"cryptography", "pickle"} for n in names), source
    probe = (
        "import sys, fical_secure.protocol; "
        "print(sorted({'torch', 'transformers', 'presidio_analyzer'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
