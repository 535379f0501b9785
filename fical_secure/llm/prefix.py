"""Scoring many texts after one shared context: the context's keys and values computed once.

Canary candidates after one prefix, and records after the same retrieved
note, share their whole context. The context runs once, alone and unpadded,
keeping its per-layer keys and values and the log-softmax of the token after
it; each batch of texts then runs on those caches, one per row (texts after
different contexts share a batch, the contexts left-padded to the longest and
the pad slots masked), right-padded, with the positions and mask each row
would have had as ``context + text`` alone. A text's first token is read off
the context's last position, so a one-token text needs no forward pass at all.

:class:`ContextCache` keeps recent context states across calls, bounded in
bytes: the reference notes every client's audit scores against, or the
re-audit after remediation, then skip their contexts too, and a text scored
again after the same context (the re-audit's records) is not run again.
Since a context always runs alone, a cached state holds the very tensors a
fresh run would compute. Any in-place change to the weights (an optimiser
step, a ``load_state_dict``) clears it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fical_secure.llm.base import LogProbs
from fical_secure.llm.batching import join_left_padded, length_sorted_chunks, pad_rows

if TYPE_CHECKING:
    import torch

DEFAULT_CACHE_BYTES = 256 * 2**20
# fewer texts than this after one context run as whole rows, batched with others. Two
# texts already save a context pass: their rows batch with texts after other contexts.
# On the demo's captured audit calls (2 cores) scoring took 55-59 s at 2 or 3 and
# 59-68 s at 4, where contexts ran alone with their own texts only.
DEFAULT_MIN_SHARED_TEXTS = 2


@dataclass(frozen=True)
class ContextState:
    """A context's keys and values per layer, and the log-probs of the token after it."""

    layers: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    first: torch.Tensor  # float32 log-softmax over the vocabulary
    length: int
    # log-probs of texts already scored after this context, by their token ids
    scored: dict[tuple[int, ...], LogProbs] = field(default_factory=dict, compare=False)

    @property
    def nbytes(self) -> int:
        kv = sum(
            k.element_size() * k.nelement() + v.element_size() * v.nelement()
            for k, v in self.layers
        )
        return kv + self.first.element_size() * self.first.nelement()


def run_context(model: Any, ids: Sequence[int], device: torch.device) -> ContextState:
    """The state of context ``ids``: one forward pass of the context alone, its cache kept."""
    import torch

    out = model(
        input_ids=torch.tensor([list(ids)], dtype=torch.long, device=device),
        use_cache=True,
        logits_to_keep=1,
    )
    layers = tuple((layer.keys, layer.values) for layer in out.past_key_values.layers)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    return ContextState(layers=layers, first=first, length=len(ids))


def texts_after(
    model: Any,
    states: ContextState | Sequence[ContextState],
    texts: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device,
) -> torch.Tensor:
    """Log-probs of each (non-empty) text's tokens after its context's state.

    ``states`` is one state for every text, or one per text: texts after
    different contexts then share a batch, their contexts' keys and values
    left-padded to the longest (pad slots masked, so they get no weight) and
    each text's positions continuing its own context. Returns a
    ``[texts, max length]`` float32 tensor whose row ``b`` holds text ``b``'s
    log-probs in its first ``len(texts[b])`` columns.
    """
    import torch
    from transformers import DynamicCache

    per_row = [states] * len(texts) if isinstance(states, ContextState) else list(states)
    if len(per_row) != len(texts):
        raise ValueError("texts_after needs one context state per text")
    ids, text_mask = pad_rows(texts, pad_id, left=False, device=device)
    rows = torch.arange(len(texts), device=device)
    first = torch.stack([s.first for s in per_row])[rows, ids[:, 0]].unsqueeze(1)
    if ids.shape[1] == 1:
        return first
    batch, width = ids.shape[0], ids.shape[1] - 1  # the last token predicts nothing scored
    span = max(s.length for s in per_row)
    if all(s is per_row[0] for s in per_row):
        cache = DynamicCache(ddp_cache_data=per_row[0].layers, config=model.config)
        cache.batch_repeat_interleave(batch)
    else:
        layers = join_left_padded([s.layers for s in per_row], span)
        cache = DynamicCache(ddp_cache_data=layers, config=model.config)
    lengths = torch.tensor([s.length for s in per_row], device=device)
    slots = torch.arange(span, device=device)
    context_mask = (slots.unsqueeze(0) >= (span - lengths).unsqueeze(1)).long()
    positions = lengths.unsqueeze(1) + torch.arange(width, device=device).unsqueeze(0)
    logits = model(
        input_ids=ids[:, :-1],
        attention_mask=torch.cat([context_mask, text_mask[:, :-1]], dim=1),
        position_ids=positions,
        past_key_values=cache,
        use_cache=True,
    ).logits
    rest = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1))
    return torch.cat([first, rest.squeeze(-1)], dim=1)


def score_after_contexts(
    model: Any,
    states: dict[tuple[int, ...], ContextState],
    texts: dict[tuple[int, ...], list[tuple[int, ...]]],
    pad_id: int,
    device: torch.device,
    batch_size: int,
) -> int:
    """Score each context's texts not yet in its state's ``scored``, into it.

    Texts after different contexts share length-sorted batches of up to
    ``batch_size`` (:func:`texts_after`); a text listed twice after one context
    runs once. Returns the tokens scored.
    """
    jobs = list(
        dict.fromkeys(
            (context, text)
            for context, listed in texts.items()
            for text in listed
            if text not in states[context].scored
        )
    )
    tokens = 0
    for chunk in length_sorted_chunks([t for _, t in jobs], batch_size):
        batch = [jobs[j] for j in chunk]
        picked = texts_after(
            model, [states[c] for c, _ in batch], [t for _, t in batch], pad_id, device
        )
        for row, (context, text) in zip(picked.cpu(), batch, strict=True):
            states[context].scored[text] = row[: len(text)].numpy().astype(np.float32)
            tokens += len(text)
    return tokens


def weights_stamp(model: Any) -> tuple[tuple[int, int], ...]:
    """Identity and in-place version counter of every parameter: changes when weights do."""
    return tuple((id(p), int(p._version)) for p in model.parameters())


class ContextCache:
    """Recently used context states of one model, least recently used evicted first."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._states: OrderedDict[tuple[int, ...], ContextState] = OrderedDict()
        self._bytes = 0
        self._stamp: tuple[tuple[int, int], ...] | None = None

    def __len__(self) -> int:
        return len(self._states)

    def clear(self) -> None:
        self._states.clear()
        self._bytes = 0

    def state(self, model: Any, ids: Sequence[int], device: torch.device) -> ContextState:
        """The state of context ``ids``, from the cache when the weights are unchanged."""
        stamp = weights_stamp(model)
        if stamp != self._stamp:
            self.clear()
            self._stamp = stamp
        key = tuple(ids)
        found = self._states.get(key)
        if found is not None:
            self.hits += 1
            self._states.move_to_end(key)
            return found
        self.misses += 1
        state = run_context(model, ids, device)
        if state.nbytes <= self.max_bytes:
            self._states[key] = state
            self._bytes += state.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._states.popitem(last=False)
                self._bytes -= old.nbytes
        return state
