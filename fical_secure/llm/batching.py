"""Token rows into padded batches: length-sorted chunks and padding with an attention mask.

Sorting by length before chunking keeps padding small and makes a batch's
composition independent of the callers' order; the mask (and the position ids
the callers derive from it) keep padding from changing any score.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def length_sorted_chunks(rows: Sequence[Sequence[int]], size: int) -> Iterator[list[int]]:
    """Indices of ``rows`` grouped into chunks of at most ``size``, longest rows first."""
    order = sorted(range(len(rows)), key=lambda i: (-len(rows[i]), i))
    for start in range(0, len(order), size):
        yield order[start : start + size]


def pad_rows(
    rows: Sequence[Sequence[int]], pad_id: int, *, left: bool, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token rows into ``(input_ids, attention_mask)`` tensors on ``device``."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[b, span] = torch.tensor(row, dtype=torch.long)
        mask[b, span] = 1
    return ids.to(device), mask.to(device)
