"""Greedy decoding over a static key/value cache, one CUDA graph per step.

A batch is prefilled right-padded (:meth:`Forward.prefill`, flash attention),
its keys and values written into preallocated ``[B, kv_heads, S, D]`` buffers;
each later step runs one token per row: row ``b``'s token at position ``pos[b]``
writes its keys and values to slot ``pos[b]`` and attends to slots ``<= pos[b]``.
The attention groups the query heads that share a key/value head into one
``[B, kv_heads, group, D]`` query, so the cache is read once per step without
repeating its heads. The whole step (every layer, the argmax, the bookkeeping
of finished rows) only touches device tensors, so on CUDA it is captured once
per batch shape as a CUDA graph and replayed with no host work between steps.

The result is the transformers greedy ``generate`` result: the same first
token from the prefill, a finished row padded with ``pad_id``, and the output
as long as the step where the last row finished (``tests/test_llm_decode.py``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from fical_secure.errors import GenerationError
from fical_secure.llm.layers import Forward

if TYPE_CHECKING:
    import torch

SLOT_ROUND = 64  # cache lengths are rounded up to this, so few graphs cover many prompts
CHECK_EVERY = 16  # steps between checks (one host sync each) that every row has finished
MAX_GRAPHS = 2  # batch shapes whose cache and graph stay allocated


def batch_bucket(rows: int) -> int:
    """The batch a graph is built for: the next power of two (spare rows start finished)."""
    return 1 << max(0, rows - 1).bit_length()


class _State:
    """The static buffers of one ``(batch, slots)`` shape, and its captured step."""

    def __init__(self, fwd: Forward, batch: int, slots: int, eos: torch.Tensor) -> None:
        import torch

        s, dev = fwd.shape, fwd.device
        self.batch, self.slots = batch, slots
        size = (batch, s.kv_heads, slots, s.head_dim)
        # zeros, not empty: a masked slot's weight is 0, and 0 * NaN garbage would be NaN
        self.caches = [
            (
                torch.zeros(size, dtype=fwd.dtype, device=dev),
                torch.zeros(size, dtype=fwd.dtype, device=dev),
            )
            for _ in fwd.layers
        ]
        self.cos, self.sin = fwd.rope_table(slots)
        self.slot_ids = torch.arange(slots, device=dev)
        self.tokens = torch.zeros(batch, dtype=torch.long, device=dev)
        self.pos = torch.zeros(batch, dtype=torch.long, device=dev)
        self.done = torch.zeros(batch, dtype=torch.bool, device=dev)
        self.column = torch.zeros(1, dtype=torch.long, device=dev)
        self.out = torch.zeros((batch, slots), dtype=torch.long, device=dev)
        self.pad = torch.zeros((), dtype=torch.long, device=dev)
        self.eos = eos
        self.graph: Any = None

    def step(self, fwd: Forward) -> None:
        """One token per row, in place; only device tensors, so a CUDA graph can replay it."""
        import torch
        import torch.nn.functional as F

        s, batch = fwd.shape, self.batch
        cos = self.cos.index_select(0, self.pos).view(batch, 1, 1, -1)
        sin = self.sin.index_select(0, self.pos).view(batch, 1, 1, -1)
        slot = self.pos.view(batch, 1, 1, 1).expand(batch, s.kv_heads, 1, s.head_dim)
        visible = self.slot_ids.unsqueeze(0) <= self.pos.unsqueeze(1)
        mask = torch.zeros((batch, self.slots), dtype=fwd.dtype, device=fwd.device)
        mask = mask.masked_fill(~visible, float("-inf")).view(batch, 1, 1, self.slots)
        group = s.heads // s.kv_heads
        x = F.embedding(self.tokens, fwd.embed).unsqueeze(1)
        for w, (keys, values) in zip(fwd.layers, self.caches, strict=True):
            q, k, v = fwd.attention_in(x, cos, sin, w, s)
            keys.scatter_(2, slot, k)
            values.scatter_(2, slot, v)
            q = q.reshape(batch, s.kv_heads, group, s.head_dim)
            a = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
            x = fwd.attention_out(x, a.reshape(batch, 1, s.heads * s.head_dim), w, s)
        self.advance(fwd.next_tokens(x[:, 0], fwd.norm, s.eps, fwd.lm_head))

    def advance(self, chosen: torch.Tensor) -> None:
        """Record the tokens chosen at this step (pad for finished rows) and move on."""
        import torch

        chosen = torch.where(self.done, self.pad, chosen)
        self.out.scatter_(1, self.column.expand(self.batch).unsqueeze(1), chosen.unsqueeze(1))
        self.done |= torch.isin(chosen, self.eos)
        self.tokens.copy_(chosen)
        self.pos.add_(1)
        self.column.add_(1)


class Decoder:
    """Greedy decoding of one Llama-family model (see the module docstring)."""

    def __init__(
        self, model: Any, *, compile: bool = False, cuda_graphs: bool | None = None
    ) -> None:
        """``cuda_graphs`` defaults to whether the model is on CUDA.

        Raises:
            GenerationError: the architecture is not supported (:func:`layers.unsupported`).
        """
        self.fwd = Forward(model, compile=compile)
        self.cuda_graphs = self.fwd.device.type == "cuda" if cuda_graphs is None else cuda_graphs
        self._states: OrderedDict[tuple[int, int, tuple[int, ...]], _State] = OrderedDict()

    def generate_ids(
        self,
        rows: Sequence[Sequence[int]],
        max_new_tokens: int,
        *,
        eos_ids: Collection[int],
        pad_id: int,
    ) -> list[list[int]]:
        """Greedy continuations of token ``rows``, each ``<= max_new_tokens`` long, as
        transformers ``generate`` returns them (pads after a row's end of sequence).

        Raises:
            GenerationError: an empty row, or ``max_new_tokens < 1``.
        """
        import torch

        if max_new_tokens < 1 or not rows or any(len(r) == 0 for r in rows):
            raise GenerationError("decoding needs non-empty rows and max_new_tokens >= 1")
        width = max(len(r) for r in rows)
        slots = -(-(width + max_new_tokens) // SLOT_ROUND) * SLOT_ROUND
        with torch.inference_mode():
            state = self._state(batch_bucket(len(rows)), slots, tuple(sorted(eos_ids)))
            self._prefill(state, rows, pad_id)
            steps = 1
            while steps < max_new_tokens:
                run = min(CHECK_EVERY, max_new_tokens - steps)
                for _ in range(run):
                    self._run_step(state)
                steps += run
                if bool(state.done.all()):
                    break
            out = state.out[: len(rows), :steps].tolist()
        return _trim(out, set(eos_ids), max_new_tokens)

    def _state(self, batch: int, slots: int, eos: tuple[int, ...]) -> _State:
        import torch

        key = (batch, slots, eos)
        state = self._states.get(key)
        if state is not None:
            self._states.move_to_end(key)
            return state
        while len(self._states) >= MAX_GRAPHS:
            self._states.popitem(last=False)
        eos_t = torch.tensor(eos or (-1,), dtype=torch.long, device=self.fwd.device)
        state = _State(self.fwd, batch, slots, eos_t)
        if self.cuda_graphs:
            state.graph = _capture(state, self.fwd)
        self._states[key] = state
        return state

    def _prefill(self, state: _State, rows: Sequence[Sequence[int]], pad_id: int) -> None:
        """Fill the cache with the prompts, pick each row's first token, reset the step state."""
        import torch

        fwd, batch = self.fwd, state.batch
        width = max(len(r) for r in rows)
        ids = torch.full((batch, width), pad_id, dtype=torch.long)
        lengths = torch.ones(batch, dtype=torch.long)
        for b, row in enumerate(rows):
            ids[b, : len(row)] = torch.tensor(list(row), dtype=torch.long)
            lengths[b] = len(row)
        ids, lengths = ids.to(fwd.device), lengths.to(fwd.device)
        hidden = fwd.prefill(ids, state.caches)
        last = hidden[torch.arange(batch, device=fwd.device), lengths - 1]
        state.pad.fill_(pad_id)
        state.done.zero_()
        state.done[len(rows) :] = True  # spare rows of the bucket
        state.column.zero_()
        state.pos.copy_(lengths - 1)  # the last prompt token; advance moves on to the new one
        state.advance(fwd.next_tokens(last, fwd.norm, fwd.shape.eps, fwd.lm_head))

    def _run_step(self, state: _State) -> None:
        if state.graph is None:
            state.step(self.fwd)
        else:
            state.graph.replay()


def _capture(state: _State, fwd: Forward) -> Any:
    """The step of a fresh ``state`` as a CUDA graph, after warm-up steps on a side stream
    (compilation, library handles); what they write is reset by the next prefill."""
    import torch

    side = torch.cuda.Stream()  # type: ignore[no-untyped-call]
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            state.step(fwd)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        state.step(fwd)
    return graph


def _trim(out: list[list[int]], eos_ids: set[int], max_new_tokens: int) -> list[list[int]]:
    """Cut the columns after the step where the last row finished (as ``generate`` stops)."""
    ends = []
    for row in out:
        end = next((i + 1 for i, t in enumerate(row) if t in eos_ids), None)
        ends.append(max_new_tokens if end is None else end)
    width = min(max(ends), len(out[0]))
    return [row[:width] for row in out]
