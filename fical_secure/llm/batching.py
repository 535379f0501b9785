"""Token rows into padded batches: length-sorted chunks, padding with an attention mask,
and the keys and values of several batches joined into one.

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


def join_left_padded(
    parts: Sequence[Sequence[tuple[torch.Tensor, torch.Tensor]]], span: int
) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """Per layer, the keys and values ``[rows, heads, length, dim]`` of several batches
    joined on the rows axis, each left-padded to ``span`` slots with zeros (slots the
    attention mask covers: zero rather than garbage, since 0 x NaN is NaN)."""
    import torch
    import torch.nn.functional as F

    def pad(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, 0, span - t.shape[2], 0))

    return tuple(
        (
            torch.cat([pad(part[n][0]) for part in parts]),
            torch.cat([pad(part[n][1]) for part in parts]),
        )
        for n in range(len(parts[0]))
    )
