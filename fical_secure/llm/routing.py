"""Which forward runs a batch: the CUDA fast paths or the transformers ones.

On CUDA, for Llama-family models, plain generation runs through
:class:`~fical_secure.llm.decode.Decoder` (static cache, CUDA graphs) and
scoring of whole rows through :class:`~fical_secure.llm.layers.Forward` (flash
attention, the vocabulary projected only where a token is scored); other
models, constrained decoding and the CPU keep the transformers forward
(:mod:`fical_secure.llm.greedy` and :func:`text_logprobs`). :class:`FastPaths` builds each
role's fast path once per set of weights; :func:`generate_new_ids` and
:func:`score_rows` send a batch down whichever path applies.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np

from fical_secure.llm.base import LogProbs
from fical_secure.llm.batching import pad_rows
from fical_secure.llm.decode import Decoder
from fical_secure.llm.greedy import RowMasks, greedy_new_ids
from fical_secure.llm.layers import Forward, unsupported

if TYPE_CHECKING:
    import torch


class FastPaths:
    """The decoder (role ``"decode"``) and scorer (``"score"``) built for a model's weights.

    ``enabled=None`` turns them on where the model sits on CUDA; ``compile``
    compiles them with ``torch.compile``.
    """

    def __init__(self, enabled: bool | None = None, *, compile: bool = False) -> None:
        self.enabled = enabled
        self.compile = compile
        self._built: dict[str, tuple[tuple[int, ...], Any]] = {}

    def get(self, role: str, net: Any) -> Any | None:
        """The fast path of ``role`` for ``net``, or ``None`` where the transformers path runs
        (CPU by default, an unsupported model)."""
        wanted = self.enabled if self.enabled is not None else net.device.type == "cuda"
        if not wanted or unsupported(net) is not None:
            return None
        stamp = tuple(id(p) for p in net.parameters())
        found = self._built.get(role)
        if found is None or found[0] != stamp:  # parameters replaced: rebuild on the new ones
            maker = Decoder if role == "decode" else Forward
            found = (stamp, maker(net, compile=self.compile))
            self._built[role] = found
        return found[1]


def generate_new_ids(
    net: Any,
    decoder: Any | None,
    batch: list[list[int]],
    max_new_tokens: int,
    *,
    eos_ids: Collection[int],
    pad_id: int,
    prefill_rows: int,
    masks: RowMasks | None = None,
) -> list[list[int]]:
    """Greedy new token ids of each prompt row: through ``decoder`` when given (no
    ``masks`` then), else the transformers forward over a batch that drops its
    finished rows (:func:`fical_secure.llm.greedy.greedy_new_ids`)."""
    if decoder is not None:
        new: list[list[int]] = decoder.generate_ids(
            batch, max_new_tokens, eos_ids=eos_ids, pad_id=pad_id
        )
        return new
    return greedy_new_ids(
        net,
        batch,
        max_new_tokens,
        eos_ids=eos_ids,
        pad_id=pad_id,
        prefill_rows=prefill_rows,
        masks=masks,
    )


def score_rows(
    model: Any, scorer: Any | None, rows: list[list[int]], n_text: list[int], pad_id: int
) -> list[LogProbs]:
    """Float32 log-probs of the last ``n_text[b]`` tokens of each row: through ``scorer``
    when given, else one transformers forward (:func:`text_logprobs`)."""
    import torch

    if scorer is not None:
        values: list[LogProbs] = scorer.score_ids(rows, n_text)
        return values
    device = next(model.parameters()).device
    with torch.inference_mode():
        picked = text_logprobs(model, rows, n_text, pad_id, device).cpu()
    width = picked.shape[1]
    return [picked[b, width - n :].numpy().astype(np.float32) for b, n in enumerate(n_text)]


def text_logprobs(
    model: Any, rows: list[list[int]], n_text: list[int], pad_id: int, device: torch.device
) -> torch.Tensor:
    """Log-probs of the tokens of each row's last ``n_text[b]`` positions, one forward pass.

    Rows are left-padded, so every text ends its row and the logits of the last
    ``max(n_text) + 1`` positions cover every prediction needed. Returns a
    ``[rows, max(n_text)]`` float32 tensor whose row ``b`` holds its text's
    log-probs in its last ``n_text[b]`` columns. Gradients follow the caller's
    mode (scoring wraps it in ``inference_mode``; training does not).
    """
    import torch

    input_ids, mask = pad_rows(rows, pad_id, left=True, device=device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    keep = max(n_text) + 1
    logits = model(
        input_ids=input_ids,
        attention_mask=mask,
        position_ids=positions,
        use_cache=False,
        logits_to_keep=keep,
    ).logits
    logprobs = torch.log_softmax(logits[:, -keep:-1, :].float(), dim=-1)
    return logprobs.gather(-1, input_ids[:, -keep + 1 :].unsqueeze(-1)).squeeze(-1)


def next_token_rows(
    model: Any, rows: list[list[int]], pad_id: int, device: torch.device
) -> list[LogProbs]:
    """Float32 log-softmax over the vocabulary of the token after each (left-padded) row:
    one forward pass, only the last position's logits computed."""
    import torch

    input_ids, mask = pad_rows(rows, pad_id, left=True, device=device)
    with torch.inference_mode():
        logits = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            use_cache=False,
            logits_to_keep=1,
        ).logits
        logprobs = torch.log_softmax(logits[:, -1, :].float(), dim=-1).cpu()
    return [logprobs[b].numpy().astype(np.float32) for b in range(len(rows))]
