"""A tiny random Llama over an in-memory character-level tokenizer: fast, CPU, offline.

The model is a LlamaForCausalLM built from a config (random weights, seeded),
so nothing is downloaded and every figure is deterministic; tests of the real
transformers code paths (scoring, caches, LoRA training) use it in place of
the packaged model where the model's quality is not what they test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fical_secure.llm.transformers_backend import TransformersLLM


def char_tokenizer() -> Any:
    """One token per printable ASCII character (and newline), plus pad, eos and unk."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    symbols = ["<pad>", "<eos>", "<unk>", "\n", *(chr(i) for i in range(32, 127))]
    vocab = {s: i for i, s in enumerate(symbols)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))  # noqa: S106
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    special = {"pad_token": "<pad>", "eos_token": "<eos>", "unk_token": "<unk>"}
    return PreTrainedTokenizerFast(tokenizer_object=core, **special)


def tiny_llama(
    *,
    hidden: int = 64,
    intermediate: int = 128,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    max_len: int = 512,
    seed: int = 0,
    **options: Any,
) -> TransformersLLM:
    """A float32 random Llama of the given shape as a :class:`TransformersLLM`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from fical_secure.llm.transformers_backend import TransformersLLM

    tokenizer = char_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_len,
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
        initializer_range=0.2,  # logits wide enough for a 2-layer model to fit anything
    )
    model = LlamaForCausalLM(config).float()
    return TransformersLLM(model, tokenizer, name="tiny-llama", **options)


def hf_greedy(model: Any, rows: list[list[int]], new: int, eos: int | None) -> list[list[int]]:
    """Transformers' greedy ``generate`` of left-padded ``rows``: the new ids, finished rows
    padded with 0 after ``eos``, the output as long as the step where the last row ended."""
    import torch

    from fical_secure.llm.batching import pad_rows

    ids, mask = pad_rows(rows, 0, left=True, device=torch.device("cpu"))
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=False,
            max_new_tokens=new,
            pad_token_id=0,
            eos_token_id=eos,
        )
    return [list(r) for r in out[:, ids.shape[1] :].tolist()]
