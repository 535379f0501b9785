"""An :class:`LLM` that loads its model on first use.

A client whose configured stages never ask the model anything (KCG's
templated kinds only, an audit without LLM signals) then never spends the
load time or the memory; the first call loads it through :func:`load_llm`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fical_secure.errors import GenerationError
from fical_secure.llm.base import LLM, JsonLLM, LogProbs
from fical_secure.llm.loader import DEFAULT_GGUF, load_llm


class LazyLLM:
    """Satisfies :class:`LLM`; ``name`` is known before loading, the rest loads the model."""

    def __init__(
        self, model: str | os.PathLike[str] | None = None, *, device: str | None = None
    ) -> None:
        self._model, self._device = model, device
        self._llm: LLM | None = None
        self.name = Path(model).name if model is not None else DEFAULT_GGUF.removesuffix(".gguf")

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def _get(self) -> LLM:
        """Raises ModelNotFoundError / GenerationError as :func:`load_llm` does."""
        if self._llm is None:
            self._llm = load_llm(self._model, device=self._device)
        return self._llm

    @property
    def usage(self) -> Any:
        """Token counters of the loaded model (None before loading)."""
        return getattr(self._llm, "usage", None)

    def chat_prompt(self, user: str, system: str | None = None) -> str:
        return self._get().chat_prompt(user, system)

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int = 96, system: str | None = None
    ) -> list[str]:
        return self._get().generate(prompts, max_new_tokens=max_new_tokens, system=system)

    def generate_json(
        self,
        prompts: Sequence[str],
        schemas: Sequence[str],
        *,
        max_new_tokens: int = 128,
        system: str | None = None,
    ) -> list[str]:
        llm = self._get()
        if not isinstance(llm, JsonLLM):
            raise GenerationError(f"{self.name} cannot decode constrained to a JSON Schema")
        return llm.generate_json(prompts, schemas, max_new_tokens=max_new_tokens, system=system)

    def score(self, texts: Sequence[str], contexts: Sequence[str]) -> list[LogProbs]:
        return self._get().score(texts, contexts)

    def next_token_logprobs(self, contexts: Sequence[str]) -> list[LogProbs]:
        return self._get().next_token_logprobs(contexts)

    def first_token_id(self, text: str, context: str) -> int:
        return self._get().first_token_id(text, context)
