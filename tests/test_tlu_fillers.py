"""The argument-filler seam: rule extraction by default, the LLM filler by name."""

from __future__ import annotations

import importlib.util

import pytest

from fical_secure.data.catalogue import tool_by_name
from fical_secure.errors import ConfigError
from fical_secure.tlu.args import fill_arguments
from fical_secure.tlu.fillers import LLM_FILLER, RuleFiller, load_filler
from fical_secure.tlu.knowledge import Knowledge


def test_rule_filler_is_the_rule_extraction_with_the_aliases() -> None:
    spec = tool_by_name("lab_results_lookup")
    request = "Pull the latest chem-7 for MRN-0042137."
    knowledge = Knowledge(aliases={"chem-7": "BMP"})
    (fill,) = load_filler("rule").fill([request], [spec], knowledge)
    assert fill == fill_arguments(request, spec, aliases=knowledge.aliases)
    assert fill.arguments.get("test") == "BMP"
    assert isinstance(load_filler("rule"), RuleFiller)


def test_unknown_filler_and_llm_filler_without_a_model_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown filler"):
        load_filler("oracle")
    with pytest.raises(ConfigError, match="needs a model"):
        load_filler("llm")


@pytest.mark.skipif(
    importlib.util.find_spec(LLM_FILLER[0]) is not None, reason="the LLM filler is installed"
)
def test_llm_filler_missing_from_the_install_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="use --filler rule"):
        load_filler("llm", llm=object())
