"""The one small interface every part of fical-secure uses to talk to a local LLM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

LogProbs = npt.NDArray[np.float32]


@runtime_checkable
class LLM(Protocol):
    """A local language model.

    ``generate`` takes *user messages* and applies the model's chat template
    (when it has one) itself; ``chat_prompt`` exposes that formatting so callers
    can build scoring contexts that match generation.
    """

    name: str

    def chat_prompt(self, user: str, system: str | None = None) -> str:
        """The raw prompt string for one user turn, ending where the assistant speaks."""
        ...

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 96,
        system: str | None = None,
    ) -> list[str]:
        """Greedy completions of ``prompts`` (user messages), batched.

        Raises:
            GenerationError: the backend failed.
        """
        ...

    def score(self, texts: Sequence[str], contexts: Sequence[str]) -> list[LogProbs]:
        """Per-token log-probabilities of each ``texts[i]`` given raw prefix ``contexts[i]``.

        Returns one float32 array per text (one value per token of the text).

        Raises:
            GenerationError: the backend failed.
        """
        ...

    def next_token_logprobs(self, contexts: Sequence[str]) -> list[LogProbs]:
        """Log-softmax (float32, whole vocabulary) of the next token after each raw context.

        One forward pass per context, however many candidates the caller then
        reads off: ``next_token_logprobs([c])[0][first_token_id(t, c)]`` equals
        ``score([t], [c])[0][0]``.

        Raises:
            GenerationError: the backend failed.
        """
        ...

    def first_token_id(self, text: str, context: str) -> int:
        """Id of the token ``text`` starts with when :meth:`score` scores it after ``context``.

        Raises:
            ValueError: ``text`` has no tokens.
        """
        ...


@runtime_checkable
class JsonLLM(LLM, Protocol):
    """An :class:`LLM` that can also decode constrained to a JSON Schema."""

    def generate_json(
        self,
        prompts: Sequence[str],
        schemas: Sequence[str],
        *,
        max_new_tokens: int = 128,
        system: str | None = None,
    ) -> list[str]:
        """Greedy completions of ``prompts``, each constrained to ``schemas[i]`` (JSON text).

        Raises:
            SchemaError: a schema cannot be compiled.
            GenerationError: the backend failed.
        """
        ...
