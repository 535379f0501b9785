"""Greedy decoding over a shrinking batch against transformers' ``generate``, on the CPU.

A tiny random Llama in float32, one thread: the tokens must equal greedy
``generate``'s for prompts of different lengths prefilled in several chunks,
with rows finishing at different steps (an end-of-sequence token), and under
per-row masks. Finished rows stop at their end-of-sequence token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from tiny_llama import hf_greedy, tiny_llama

from fical_secure.llm.greedy import greedy_new_ids

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_thread")

ROWS: list[list[int]] = [
    [5, 6, 7, 8, 9, 10, 11],
    [12, 13, 14],
    [40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50],
    [60, 61],
    [30, 31, 32, 33, 34],
]


@pytest.fixture(scope="module")
def llama() -> Any:
    return tiny_llama(max_len=512).model


def generate_cut(model: Any, rows: list[list[int]], new: int, eos: int | None) -> list:
    """Transformers' greedy ``generate``, each row cut after its first ``eos``."""
    out = hf_greedy(model, rows, new, eos)
    return [r[: r.index(eos) + 1] if eos is not None and eos in r else r for r in out]


@pytest.mark.parametrize("prefill_rows", [1, 2, 5])
def test_tokens_equal_transformers_generate(llama: Any, prefill_rows: int) -> None:
    got = greedy_new_ids(llama, ROWS, 24, eos_ids=(), pad_id=0, prefill_rows=prefill_rows)
    assert got == generate_cut(llama, ROWS, 24, None)
    assert all(len(row) == 24 for row in got)


def test_rows_leave_the_batch_at_their_end_of_sequence_token(llama: Any) -> None:
    free = greedy_new_ids(llama, ROWS, 30, eos_ids=(), pad_id=0, prefill_rows=2)
    eos = free[2][3]  # a token one row emits early; other rows end elsewhere or never
    got = greedy_new_ids(llama, ROWS, 30, eos_ids={eos}, pad_id=0, prefill_rows=2)
    assert got == generate_cut(llama, ROWS, 30, eos)
    lengths = {len(row) for row in got}
    assert len(got[2]) == 4 and got[2][-1] == eos and len(lengths) > 1
    for row, whole in zip(got, free, strict=True):
        assert row == whole[: len(row)]


class EvenOnly:
    """Row masks allowing even token ids only; a row ends after ``length`` tokens."""

    def __init__(self, length: int) -> None:
        self.length, self.seen = length, {}
        self.calls: list[int] = []

    def apply(self, logits: Any, rows: Sequence[int]) -> None:
        self.calls.append(len(rows))
        logits[:, 1::2] = float("-inf")

    def accept(self, row: int, token: int) -> bool:
        assert token % 2 == 0
        self.seen[row] = self.seen.get(row, 0) + 1
        return self.seen[row] >= self.length + row  # row r ends after length + r tokens


def test_masks_constrain_every_token_and_finish_rows(llama: Any) -> None:
    masks = EvenOnly(3)
    got = greedy_new_ids(llama, ROWS, 20, eos_ids=(), pad_id=0, prefill_rows=2, masks=masks)
    assert [len(row) for row in got] == [3 + r for r in range(len(ROWS))]
    assert all(t % 2 == 0 for row in got for t in row)
    assert masks.calls == sorted(masks.calls, reverse=True) and masks.calls[-1] == 1


def test_a_one_token_budget_runs_the_prefill_only(llama: Any) -> None:
    got = greedy_new_ids(llama, ROWS, 1, eos_ids=(), pad_id=0, prefill_rows=3)
    assert got == generate_cut(llama, ROWS, 1, None)


def test_no_prompts_give_no_rows(llama: Any) -> None:
    assert greedy_new_ids(llama, [], 8, eos_ids=(), pad_id=0, prefill_rows=4) == []


def test_a_cpu_backend_decodes_in_generates_batches_unless_told() -> None:
    from fical_secure.llm.greedy import DEFAULT_DECODE_ROWS

    assert tiny_llama().decode_rows == DEFAULT_DECODE_ROWS
    assert tiny_llama(decode_rows=48).decode_rows == 48
    with pytest.raises(ValueError, match="decode_rows"):
        tiny_llama(decode_rows=0)
