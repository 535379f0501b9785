"""Communication per client: parameter counts from the architecture, ratios to the compendium."""

from __future__ import annotations

import pytest

from fical_secure.attacks.communication import LLAMA_8B, SMOLLM2_135M, communication


def test_parameter_counts_match_the_published_sizes() -> None:
    assert SMOLLM2_135M.parameters() == pytest.approx(134.5e6, rel=0.01)
    assert LLAMA_8B.parameters() == pytest.approx(8.03e9, rel=0.01)
    # rank 8 on q, k, v, o: 8 * (2*4096 + 2*(4096+1024) + 2*4096) per layer, 32 layers
    assert LLAMA_8B.lora_parameters(8) == 32 * 8 * (4 * 4096 + 2 * 4096 + 2 * 1024) == 6815744


def test_ratios_are_against_the_hardened_compendium() -> None:
    figures = communication({"compendium_hardened": 24_000, "sample_sharing": 12_000})
    big = figures["Llama-3.1-8B"]
    assert big["ratio_to_compendium"]["compendium_hardened"] == 1.0
    assert big["ratio_to_compendium"]["sample_sharing"] == 0.5
    assert big["ratio_to_compendium"]["full_model"] == pytest.approx(
        2 * LLAMA_8B.parameters() / 24_000, rel=1e-6
    )
    with pytest.raises(ValueError, match="baseline"):
        communication({"sample_sharing": 10})
