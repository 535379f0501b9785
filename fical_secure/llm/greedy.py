"""Greedy decoding on the transformers forward, the batch shrinking as its rows finish.

Transformers' ``generate`` runs a batch until its last row has finished: on
the argument filler's calls most rows end after about ten tokens and one runs
forty, so most steps carry rows that are done, and each batch of
``max_batch_size`` prompts pays for its own longest row. Here the prompts are
prefilled in length-sorted chunks (little padding), their keys and values
joined into one batch (each chunk's left-padded to the longest, the pad slots
masked), and each step runs only the rows still going: a finished row leaves
the cache. Per-row positions continue each prompt, as ``generate`` derives
them from the attention mask.

The tokens are the ones greedy ``generate`` picks: the same logits up to the
rounding of other batch shapes (``tests/test_llm_greedy.py`` compares both),
masked at every step by the rows' grammars where :class:`RowMasks` are given.
A row's output is its new tokens up to and including the end-of-sequence
token that finished it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from fical_secure.llm.batching import join_left_padded, length_sorted_chunks, pad_rows

if TYPE_CHECKING:
    import torch

# prompts decoded together (prefilled max_batch_size at a time). On the demo's 66
# constrained calls (2 cores, bf16): 20.9 s at 16 with the very outputs of
# transformers' generate (26-28 s), 17.9 s at 128 with 2 of 66 outputs changed by bf16
# rounding in batches of other shapes (near-ties): the default keeps generate's batches
DEFAULT_DECODE_ROWS = 16
# on a GPU a decoding step costs about the same for 16 rows as for 64: 64 prompts of the
# demo's output lengths on a 0.5B-class model (H100, bf16) took 0.61 s over 64 rows
# against 2.25 s through generate in batches of 16 (benchmarks/results/gpu_greedy.json)
DEFAULT_DECODE_ROWS_CUDA = 64


class RowMasks(Protocol):
    """What constrains each row's next token (one grammar per prompt row)."""

    def apply(self, logits: torch.Tensor, rows: Sequence[int]) -> None:
        """Mask, in place, ``logits[j]`` to what row ``rows[j]`` may emit next."""

    def accept(self, row: int, token: int) -> bool:
        """Advance row ``row`` by ``token``; ``True`` where the row can take no more tokens."""


def greedy_new_ids(
    net: Any,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    eos_ids: Collection[int],
    pad_id: int,
    prefill_rows: int,
    masks: RowMasks | None = None,
) -> list[list[int]]:
    """Greedy new token ids of each prompt, in input order (see the module docstring)."""
    import torch
    from transformers import DynamicCache

    if not prompts:
        return []
    device = next(net.parameters()).device
    out: list[list[int]] = [[] for _ in prompts]
    order: list[int] = []
    parts, masks_in, logits_in = [], [], []
    with torch.inference_mode():
        for chunk in length_sorted_chunks(prompts, prefill_rows):
            ids, mask = pad_rows([prompts[i] for i in chunk], pad_id, left=True, device=device)
            prefill = net(
                input_ids=ids,
                attention_mask=mask,
                position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                past_key_values=DynamicCache(config=net.config),
                use_cache=True,
                logits_to_keep=1,
            )
            parts.append(tuple((lay.keys, lay.values) for lay in prefill.past_key_values.layers))
            masks_in.append(mask)
            logits_in.append(prefill.logits[:, -1].float())
            order.extend(chunk)
        span = max(m.shape[1] for m in masks_in)
        cache = DynamicCache(ddp_cache_data=join_left_padded(parts, span), config=net.config)
        attention = torch.cat(
            [torch.nn.functional.pad(m, (span - m.shape[1], 0)) for m in masks_in]
        )
        position = attention.sum(-1)  # each row's next position: its prompt's length
        logits = torch.cat(logits_in)
        active = list(order)  # prompt index of each batch row
        for step in range(max_new_tokens):
            if masks is not None:
                masks.apply(logits, active)
            tokens = logits.argmax(-1)
            keep = []
            for j, (row, token) in enumerate(zip(active, tokens.tolist(), strict=True)):
                out[row].append(token)
                done = token in eos_ids
                if masks is not None:
                    done = masks.accept(row, token) or done
                if not done:
                    keep.append(j)
            if not keep or step == max_new_tokens - 1:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                attention, position, tokens = attention[index], position[index], tokens[index]
                active = [active[j] for j in keep]
            attention = torch.cat([attention, attention.new_ones((len(active), 1))], dim=1)
            logits = (
                net(
                    input_ids=tokens.unsqueeze(1),
                    attention_mask=attention,
                    position_ids=position.unsqueeze(1),
                    past_key_values=cache,
                    use_cache=True,
                )
                .logits[:, -1]
                .float()
            )
            position = position + 1
    return out
