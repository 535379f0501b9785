"""The static-cache decoder and the functional forward against transformers, on the CPU.

Tiny random Llama and Qwen2 models (float32, one thread): greedy tokens must
equal ``generate``'s exactly, finished rows padded and the output cut where
the last row finished; scores must equal the transformers forward's to float
rounding (the same sums in another order: ``atol=1e-5``).
"""

from __future__ import annotations

from typing import Any

import pytest
from tiny_llama import hf_greedy, tiny_llama

from fical_secure.errors import GenerationError
from fical_secure.llm.decode import Decoder, batch_bucket
from fical_secure.llm.layers import Forward, unsupported
from fical_secure.llm.routing import text_logprobs
from fical_secure.llm.transformers_backend import TransformersLLM

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_thread")

ROWS = [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50]]


@pytest.fixture(scope="module")
def llama() -> Any:
    return tiny_llama(max_len=512).model


def tiny_qwen2() -> Any:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(1)
    config = Qwen2Config(
        vocab_size=99,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        initializer_range=0.2,
    )
    return Qwen2ForCausalLM(config).float().eval()


@pytest.mark.parametrize("make", ["llama", "qwen2"])
def test_greedy_tokens_equal_transformers_generate(make: str, llama: Any) -> None:
    model = llama if make == "llama" else tiny_qwen2()
    got = Decoder(model).generate_ids(ROWS, 40, eos_ids=(), pad_id=0)
    assert got == hf_greedy(model, ROWS, 40, None)
    assert [len(r) for r in got] == [40, 40, 40]


def test_a_finished_row_is_padded_and_output_stops_when_all_have_finished(llama: Any) -> None:
    free = Decoder(llama).generate_ids(ROWS, 30, eos_ids=(), pad_id=0)
    eos = free[0][5]  # a token the first row emits at step 6: it ends there
    assert eos != 0
    want = hf_greedy(llama, ROWS, 30, eos)
    got = Decoder(llama).generate_ids(ROWS, 30, eos_ids={eos}, pad_id=0)
    assert got == want
    assert got[0][:6] == free[0][:6]
    assert all(t == 0 for t in got[0][6:])


def test_one_decoder_serves_batches_of_other_shapes(llama: Any) -> None:
    decoder = Decoder(llama)
    for rows, new in ((ROWS[:1], 5), (ROWS, 70), (ROWS[1:], 3)):
        assert decoder.generate_ids(rows, new, eos_ids=(), pad_id=0) == hf_greedy(
            llama, rows, new, None
        )


@pytest.mark.parametrize("make", ["llama", "qwen2"])
def test_scores_equal_the_transformers_forward(make: str, llama: Any) -> None:
    model = llama if make == "llama" else tiny_qwen2()
    n_text = [3, 2, 10]
    got = Forward(model).score_ids(ROWS, n_text)
    with torch.inference_mode():
        ref = text_logprobs(model, ROWS, n_text, 0, torch.device("cpu"))
    for b, n in enumerate(n_text):
        assert got[b].shape == (n,)
        assert torch.allclose(torch.from_numpy(got[b]), ref[b, ref.shape[1] - n :], atol=1e-5)


def test_backend_gives_the_same_text_and_scores_on_either_path() -> None:
    prompts = ["Check labs.", "Book Anna on Monday at 10:00 for the clinic."]
    plain = tiny_llama(max_len=512, fast_paths=False)
    fast = tiny_llama(max_len=512, fast_paths=True)
    assert fast.generate(prompts, max_new_tokens=12) == plain.generate(prompts, max_new_tokens=12)
    texts, contexts = [" HbA1c 7.1", " room 4"], ["Patient 12:", "Clinic:"]
    for a, b in zip(fast.score(texts, contexts), plain.score(texts, contexts), strict=True):
        assert torch.allclose(torch.from_numpy(a), torch.from_numpy(b), atol=1e-5)
    assert fast._fast_path("decode") is not None
    assert plain._fast_path("decode") is None


def test_unsupported_models_are_refused_and_keep_the_transformers_path() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50))
    assert "gpt2" in str(unsupported(gpt2))
    with pytest.raises(GenerationError, match="gpt2"):
        Decoder(gpt2)
    llm = TransformersLLM(gpt2, tiny_llama().tokenizer, name="gpt2", fast_paths=True)
    assert llm._fast_path("decode") is None


def test_bad_requests_raise_typed_errors(llama: Any) -> None:
    decoder = Decoder(llama)
    with pytest.raises(GenerationError):
        decoder.generate_ids([[]], 4, eos_ids=(), pad_id=0)
    with pytest.raises(GenerationError):
        decoder.generate_ids(ROWS, 0, eos_ids=(), pad_id=0)
    with pytest.raises(GenerationError, match="context token"):
        decoder.fwd.score_ids([[3, 4]], [2])
    assert [batch_bucket(n) for n in (1, 2, 3, 5, 16, 17)] == [1, 2, 4, 8, 16, 32]
