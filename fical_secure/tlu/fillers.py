"""Argument fillers: what turns a request and a chosen tool into the call's arguments.

One seam for every filler: :class:`ArgumentFiller` takes a batch of
(request, tool spec) pairs with the knowledge the agent holds and returns one
:class:`~fical_secure.tlu.args.ArgFill` each. ``rule`` is the extraction of
:mod:`fical_secure.tlu.args` (no model); ``llm`` is the schema-constrained
LLM filler, loaded by name from :data:`LLM_FILLER` so that this module does
not import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Protocol

from fical_secure.data.schema import ToolSpec
from fical_secure.errors import ConfigError
from fical_secure.tlu.args import ArgFill, fill_arguments
from fical_secure.tlu.knowledge import Knowledge

FILLERS: tuple[str, ...] = ("rule", "llm")
LLM_FILLER = ("fical_secure.tlu.llm_filler", "LLMFiller")
"""(module, class) of the LLM filler: constructed as ``LLMFiller(llm)``."""


class ArgumentFiller(Protocol):
    """Fills the arguments of one chosen tool per request, batched."""

    def fill(
        self, requests: Sequence[str], specs: Sequence[ToolSpec], knowledge: Knowledge
    ) -> list[ArgFill]: ...


class RuleFiller:
    """Rule-based extraction (:func:`fical_secure.tlu.args.fill_arguments`) with the aliases."""

    def fill(
        self, requests: Sequence[str], specs: Sequence[ToolSpec], knowledge: Knowledge
    ) -> list[ArgFill]:
        return [
            fill_arguments(request, spec, aliases=knowledge.aliases)
            for request, spec in zip(requests, specs, strict=True)
        ]


def load_filler(name: str, *, llm: Any = None) -> ArgumentFiller:
    """The filler called ``name`` (of :data:`FILLERS`); ``llm`` is the model the LLM filler uses.

    Raises:
        ConfigError: an unknown name, no model for ``llm``, or no LLM filler in this install.
    """
    if name == "rule":
        return RuleFiller()
    if name != "llm":
        raise ConfigError(f"unknown filler {name!r}: choose one of {', '.join(FILLERS)}")
    if llm is None:
        raise ConfigError("the llm filler needs a model: load one with fical_secure.llm.loader")
    module, cls = LLM_FILLER
    try:
        factory = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"the llm filler ({module}.{cls}) is not in this install; use --filler rule"
        ) from exc
    filler: ArgumentFiller = factory(llm)
    return filler
