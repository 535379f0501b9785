"""Bytes a client sends per round under each way of federating, and their ratios.

Model sizes are computed from the architecture (decoder-only transformer with
grouped-query attention and a gated MLP), not copied from model cards:
SmolLM2-135M-Instruct (the packaged default) and Llama-3.1-8B as the 8B
reference. A full-model update and a LoRA adapter (rank ``r`` on the four
attention projections of every layer, FedPIT-style parameter FL) are sent as
bf16, 2 bytes a parameter. Where the run trained parameter FL
(:mod:`fical_secure.attacks.parameter_fl`), the adapter a client actually
sent is recorded beside the computed one, with the check that both count the
same parameters (the measured bytes add the safetensors header).
"""

from __future__ import annotations

from dataclasses import dataclass

from fical_secure.jsontypes import JsonObject

BYTES_PER_PARAM = 2  # bf16
WIRE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


@dataclass(frozen=True)
class Architecture:
    """The dimensions that determine a decoder's parameter count."""

    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    tied_embeddings: bool

    @property
    def kv_dim(self) -> int:
        return self.hidden // self.heads * self.kv_heads

    def parameters(self) -> int:
        """Every weight: embeddings, attention, gated MLP and RMSNorm gains."""
        h, kv = self.hidden, self.kv_dim
        attention = 2 * h * h + 2 * h * kv
        mlp = 3 * h * self.intermediate
        per_layer = attention + mlp + 2 * h
        embeddings = self.vocab * h * (1 if self.tied_embeddings else 2)
        return embeddings + self.layers * per_layer + h

    def lora_parameters(self, rank: int = 8) -> int:
        """A rank-``rank`` adapter (A and B) on q, k, v and o of every layer."""
        h, kv = self.hidden, self.kv_dim
        per_layer = rank * ((h + h) + (h + kv) + (h + kv) + (h + h))
        return self.layers * per_layer


@dataclass(frozen=True)
class MeasuredAdapter:
    """What parameter FL measured: one client's upload per round and what it counts."""

    bytes_per_round: int
    parameters: int  # tensors of the global adapter, summed
    base_parameters: int | None  # the base model's distinct weights (finds its architecture)
    wire_dtype: str = "bfloat16"


def _measured(arch: Architecture, rank: int, measured: MeasuredAdapter) -> JsonObject:
    """The measured adapter against ``arch``'s computed one: parameters and bytes agree?"""
    per_param = WIRE_BYTES.get(measured.wire_dtype, BYTES_PER_PARAM)
    header = measured.bytes_per_round - measured.parameters * per_param
    return {
        "bytes_per_round": measured.bytes_per_round,
        "wire_dtype": measured.wire_dtype,
        "parameters_measured": measured.parameters,
        "parameters_computed": arch.lora_parameters(rank),
        "parameters_agree": measured.parameters == arch.lora_parameters(rank),
        "base_parameters_measured": measured.base_parameters,
        "base_parameters_agree": measured.base_parameters == arch.parameters(),
        "header_bytes": header,
        "note": "measured = parameters x bytes of the wire dtype + the safetensors header "
        "(tensor names, shapes, offsets); the computed figure counts the tensors only",
    }


SMOLLM2_135M = Architecture("SmolLM2-135M-Instruct", 576, 1536, 30, 9, 3, 49152, True)
LLAMA_8B = Architecture("Llama-3.1-8B", 4096, 14336, 32, 32, 8, 128256, False)


def communication(
    bytes_per_client: dict[str, int],
    *,
    lora_rank: int = 8,
    measured: MeasuredAdapter | None = None,
) -> JsonObject:
    """Per model: bytes per client per round of each mode, and each as a ratio to the compendium.

    ``bytes_per_client`` holds the measured text modes (e.g. ``compendium_hardened``,
    ``sample_sharing``); ``compendium_hardened`` is the ratios' denominator.
    ``measured``, the adapter parameter FL sent, is added as ``lora_adapter_measured``
    to the model whose parameter count it was trained on (with the agreement check).

    Raises:
        ValueError: no positive ``compendium_hardened`` figure to divide by.
    """
    base = bytes_per_client.get("compendium_hardened", 0)
    if base <= 0:
        raise ValueError("need the hardened compendium's bytes per client (> 0) as the baseline")
    out: JsonObject = {"baseline": "compendium_hardened", "lora_rank": lora_rank}
    for arch in (SMOLLM2_135M, LLAMA_8B):
        sizes = dict(bytes_per_client)
        sizes["lora_adapter"] = arch.lora_parameters(lora_rank) * BYTES_PER_PARAM
        sizes["full_model"] = arch.parameters() * BYTES_PER_PARAM
        here = measured if measured and measured.base_parameters == arch.parameters() else None
        if here is not None:
            sizes["lora_adapter_measured"] = here.bytes_per_round
        row: JsonObject = {
            "parameters": arch.parameters(),
            "bytes_per_client": sizes,
            "ratio_to_compendium": {k: round(v / base, 2) for k, v in sizes.items()},
        }
        if here is not None:
            row["lora_measured"] = _measured(arch, lora_rank, here)
        out[arch.name] = row
    matched = measured is not None and any(
        measured.base_parameters == a.parameters() for a in (SMOLLM2_135M, LLAMA_8B)
    )
    if measured is not None and not matched:
        out["lora_measured"] = {
            "bytes_per_round": measured.bytes_per_round,
            "parameters_measured": measured.parameters,
            "base_parameters_measured": measured.base_parameters,
            "note": "trained on a model of neither architecture above: no computed figure",
        }
    return out
