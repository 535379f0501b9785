"""A Llama-family model's forward pass as plain functions over its weights, for CUDA speed.

Llama, Qwen2 and Mistral (without sliding windows) share one block: RMSNorm,
rotary positions, grouped-query attention and a gated SiLU MLP. Written as
functions that take a layer's weights as arguments, one compiled graph serves
every layer (``torch.compile`` then fuses the norms, rotary and activation
around the matrix products), and the code holds no Python state a CUDA graph
could not replay. The maths is the transformers modules', op for op
(``tests/test_llm_decode.py`` compares both).

Scoring runs right-padded rows with causal flash attention (padding at the end
of a row changes nothing before it) and computes the vocabulary projection
only at the positions whose next token is scored, in chunks, so the full
``[rows, length, vocabulary]`` logits never exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from fical_secure.errors import GenerationError
from fical_secure.llm.base import LogProbs

if TYPE_CHECKING:
    import torch

SUPPORTED_TYPES = frozenset({"llama", "qwen2", "mistral"})
LOGIT_ROWS = 2048  # positions projected onto the vocabulary at a time


class LayerWeights(NamedTuple):
    """One decoder layer's tensors (biases ``None`` where the architecture has none)."""

    ln1: torch.Tensor
    wq: torch.Tensor
    bq: torch.Tensor | None
    wk: torch.Tensor
    bk: torch.Tensor | None
    wv: torch.Tensor
    bv: torch.Tensor | None
    wo: torch.Tensor
    bo: torch.Tensor | None
    ln2: torch.Tensor
    wg: torch.Tensor
    wu: torch.Tensor
    wd: torch.Tensor


@dataclass(frozen=True)
class Shape:
    """What the layer functions need besides tensors (constants of one model)."""

    heads: int
    kv_heads: int
    head_dim: int
    eps: float


def unsupported(model: Any) -> str | None:
    """Why ``model`` cannot run through these functions, or ``None`` when it can.

    Adapter-wrapped projections (LoRA) are refused: their own forward adds to the weight.
    """
    import torch

    config = model.config
    kind = getattr(config, "model_type", None)
    if kind not in SUPPORTED_TYPES:
        return f"model type {kind!r} is not one of {sorted(SUPPORTED_TYPES)}"
    if getattr(config, "hidden_act", None) != "silu":
        return f"activation {config.hidden_act!r} is not silu"
    if getattr(config, "use_sliding_window", False) or (
        kind == "mistral" and getattr(config, "sliding_window", None) is not None
    ):
        return "sliding-window attention is not supported"
    if getattr(config, "mlp_bias", False):
        return "MLP biases are not supported"
    try:
        linear = [model.lm_head]
        for layer in model.model.layers:
            att, mlp = layer.self_attn, layer.mlp
            linear += [att.q_proj, att.k_proj, att.v_proj, att.o_proj]
            linear += [mlp.gate_proj, mlp.up_proj, mlp.down_proj]
            _ = (layer.input_layernorm.weight, layer.post_attention_layernorm.weight)
        _ = (model.model.embed_tokens.weight, model.model.norm.weight, model.model.rotary_emb)
    except AttributeError as exc:
        return f"not the layout of a transformers {kind} model ({exc})"
    if any(type(m) is not torch.nn.Linear for m in linear):
        return "a projection is not a plain linear layer (an adapter?)"
    return None


def _bias(linear: Any) -> torch.Tensor | None:
    bias = getattr(linear, "bias", None)
    return None if bias is None else bias.detach()


def layer_weights(model: Any) -> tuple[LayerWeights, ...]:
    """Each decoder layer's weights of ``model``, as the very (detached) parameter tensors.

    Raises:
        GenerationError: the architecture is not one these functions implement.
    """
    reason = unsupported(model)
    if reason is not None:
        raise GenerationError(f"{reason}; use the model's own forward")
    out = []
    for layer in model.model.layers:
        att, mlp = layer.self_attn, layer.mlp
        out.append(
            LayerWeights(
                ln1=layer.input_layernorm.weight.detach(),
                wq=att.q_proj.weight.detach(),
                bq=_bias(att.q_proj),
                wk=att.k_proj.weight.detach(),
                bk=_bias(att.k_proj),
                wv=att.v_proj.weight.detach(),
                bv=_bias(att.v_proj),
                wo=att.o_proj.weight.detach(),
                bo=_bias(att.o_proj),
                ln2=layer.post_attention_layernorm.weight.detach(),
                wg=mlp.gate_proj.weight.detach(),
                wu=mlp.up_proj.weight.detach(),
                wd=mlp.down_proj.weight.detach(),
            )
        )
    return tuple(out)


def shape_of(model: Any) -> Shape:
    config = model.config
    heads = int(config.num_attention_heads)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return Shape(
        heads=heads,
        kv_heads=int(getattr(config, "num_key_value_heads", None) or heads),
        head_dim=int(head_dim),
        eps=float(config.rms_norm_eps),
    )


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm as the transformers Llama module computes it (float32 inside)."""
    import torch

    dtype = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding of ``x`` ``[..., head_dim]`` (``cos``/``sin`` broadcast)."""
    import torch

    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def attention_in(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, w: LayerWeights, shape: Shape
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Queries ``[B, heads, T, D]``, keys and values ``[B, kv_heads, T, D]`` of ``x`` ``[B, T, H]``.

    ``cos``/``sin`` are ``[B or 1, 1, T, D]``.
    """
    import torch.nn.functional as F

    batch, width, _ = x.shape
    h = rms_norm(x, w.ln1, shape.eps)
    q = F.linear(h, w.wq, w.bq).view(batch, width, shape.heads, shape.head_dim).transpose(1, 2)
    k = F.linear(h, w.wk, w.bk).view(batch, width, shape.kv_heads, shape.head_dim).transpose(1, 2)
    v = F.linear(h, w.wv, w.bv).view(batch, width, shape.kv_heads, shape.head_dim).transpose(1, 2)
    return rotate(q, cos, sin), rotate(k, cos, sin), v


def attention_out(x: torch.Tensor, a: torch.Tensor, w: LayerWeights, shape: Shape) -> torch.Tensor:
    """The rest of the layer: output projection, residual, MLP block, residual.

    ``a`` is the attention output ``[B, T, heads * D]``.
    """
    import torch.nn.functional as F

    x = x + F.linear(a, w.wo, w.bo)
    h = rms_norm(x, w.ln2, shape.eps)
    return x + F.linear(F.silu(F.linear(h, w.wg)) * F.linear(h, w.wu), w.wd)


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal self-attention of right-padded rows, ``[B, T, heads * D]`` (flash on CUDA)."""
    import torch.nn.functional as F

    a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=q.shape[1] != k.shape[1])
    return a.transpose(1, 2).reshape(q.shape[0], q.shape[2], -1)


def target_logprobs(
    h: torch.Tensor, norm: torch.Tensor, eps: float, lm_head: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Float32 log-prob of ``targets[i]`` after hidden state ``h[i]`` (final norm included)."""
    import torch
    import torch.nn.functional as F

    logits = F.linear(rms_norm(h, norm, eps), lm_head).to(torch.float32)
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def next_tokens(h: torch.Tensor, norm: torch.Tensor, eps: float, lm_head: torch.Tensor) -> Any:
    """Greedy next token after each hidden state ``h`` ``[B, H]``."""
    import torch.nn.functional as F

    return F.linear(rms_norm(h, norm, eps), lm_head).argmax(-1)


class Forward:
    """The functional forward pass of one model, compiled or not.

    The weights are the model's own tensors (no copy): an in-place update of
    the model is seen here. Replacing parameter objects needs a new instance.
    """

    def __init__(self, model: Any, *, compile: bool = False) -> None:
        """Raises: GenerationError: the architecture is not supported."""
        import torch

        self.layers = layer_weights(model)
        self.shape = shape_of(model)
        self.embed = model.model.embed_tokens.weight.detach()
        self.norm = model.model.norm.weight.detach()
        self.lm_head = model.lm_head.weight.detach()
        self.rotary = model.model.rotary_emb
        self.device = self.embed.device
        self.dtype = self.embed.dtype
        wrap: Callable[[Any], Any] = (
            (lambda f: torch.compile(f, fullgraph=True)) if compile else (lambda f: f)
        )
        self.attention_in = wrap(attention_in)
        self.attention_out = wrap(attention_out)
        self.target_logprobs = wrap(target_logprobs)
        self.next_tokens = wrap(next_tokens)

    def rope_table(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin ``[length, D]`` of positions ``0 .. length-1`` (the model's own rotary)."""
        import torch

        positions = torch.arange(length, device=self.device).unsqueeze(0)
        probe = torch.empty(0, device=self.device, dtype=self.dtype)
        cos, sin = self.rotary(probe, positions)
        return cos[0].contiguous(), sin[0].contiguous()

    def prefill(
        self, ids: torch.Tensor, caches: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None
    ) -> torch.Tensor:
        """Last hidden states ``[B, T, H]`` of right-padded ``ids`` ``[B, T]`` at positions 0..T-1.

        With ``caches`` (per layer ``[B, kv_heads, S >= T, D]`` keys and values),
        the first ``T`` slots receive each layer's keys and values.
        """
        import torch.nn.functional as F

        width = ids.shape[1]
        cos, sin = self.rope_table(width)
        cos, sin = cos[None, None], sin[None, None]
        x = F.embedding(ids, self.embed)
        for i, w in enumerate(self.layers):
            q, k, v = self.attention_in(x, cos, sin, w, self.shape)
            if caches is not None:
                caches[i][0][:, :, :width].copy_(k)
                caches[i][1][:, :, :width].copy_(v)
            x = self.attention_out(x, causal_attention(q, k, v), w, self.shape)
        return x

    def score_ids(self, rows: Sequence[Sequence[int]], n_text: Sequence[int]) -> list[LogProbs]:
        """Log-probs of each row's last ``n_text[b]`` tokens given the tokens before them.

        Raises:
            GenerationError: a row has no token before its scored text.
        """
        import torch

        if any(n >= len(r) for r, n in zip(rows, n_text, strict=True)):
            raise GenerationError("a scored text needs at least one context token before it")
        width = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        spots, wanted = [], []
        for b, (row, n) in enumerate(zip(rows, n_text, strict=True)):
            ids[b, : len(row)] = torch.tensor(list(row), dtype=torch.long)
            start = b * width + len(row) - n
            spots.append(torch.arange(start - 1, start + n - 1))
            wanted.append(torch.tensor(list(row[len(row) - n :]), dtype=torch.long))
        spot = torch.cat(spots).to(self.device)
        target = torch.cat(wanted).to(self.device)
        with torch.inference_mode():
            hidden = self.prefill(ids.to(self.device))
            flat = hidden.reshape(-1, hidden.shape[-1]).index_select(0, spot)
            values = torch.cat(
                [
                    self.target_logprobs(
                        flat[i : i + LOGIT_ROWS],
                        self.norm,
                        self.shape.eps,
                        self.lm_head,
                        target[i : i + LOGIT_ROWS],
                    )
                    for i in range(0, flat.shape[0], LOGIT_ROWS)
                ]
            ).cpu()
        out = values.numpy().astype(np.float32)
        bounds = np.cumsum([0, *n_text])
        return [out[bounds[b] : bounds[b + 1]] for b in range(len(rows))]
