"""A tiny character-level LLM for tests whose subject is the measurement, not the model.

:class:`CopyingLLM` implements the :class:`fical_secure.llm.base.LLM` protocol
over a 256-symbol vocabulary (one symbol per character, ``ord % 256``). Its
next-symbol distribution copies: when the last ``window`` characters of the
context occurred earlier in it, the character that followed them first gets
``copy_logit`` more weight; every symbol also gets a deterministic
pseudo-random logit from the context's tail, so unseen strings are ranked in
an arbitrary but fixed order. It is the idealised in-context copier the
attacks are built to catch: it reproduces what its context holds and knows
nothing else. Greedy :meth:`generate`, :meth:`score` and
:meth:`next_token_logprobs` are consistent with each other by construction.
Tests use it only where the real model's output is irrelevant to what is
tested (that an attack measures a copy when there is one, and chance when
there is none); the packaged model's behaviour is tested in the slow tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

VOCAB = 256


class CopyingLLM:
    """An in-context copier (see the module docstring)."""

    name = "copying-fake"

    def __init__(self, window: int = 8, copy_logit: float = 12.0) -> None:
        self.window = window
        self.copy_logit = copy_logit

    def chat_prompt(self, user: str, system: str | None = None) -> str:
        return (system + "\n" if system else "") + user

    def _logits(self, context: str) -> npt.NDArray[np.float64]:
        tail = context[-self.window :]
        seed = int.from_bytes(hashlib.sha256(tail.encode("utf-8")).digest()[:8], "big")
        logits = np.random.default_rng(seed).normal(0.0, 1.0, VOCAB)
        if len(tail) == self.window:
            # the first earlier occurrence of the tail: the character after it is copied
            at = context.find(tail, 0, len(context) - 1)
            if at >= 0:
                logits[ord(context[at + self.window]) % VOCAB] += self.copy_logit
        return logits

    def _logprobs(self, context: str) -> npt.NDArray[np.float32]:
        logits = self._logits(context)
        shifted = logits - logits.max()
        return (shifted - np.log(np.exp(shifted).sum())).astype(np.float32)

    def next_token_logprobs(self, contexts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        return [self._logprobs(c) for c in contexts]

    def first_token_id(self, text: str, context: str) -> int:
        if not text:
            raise ValueError("text has no tokens")
        return ord(text[0]) % VOCAB

    def score(self, texts: Sequence[str], contexts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        out = []
        for text, context in zip(texts, contexts, strict=True):
            values = [
                self._logprobs(context + text[:i])[ord(ch) % VOCAB] for i, ch in enumerate(text)
            ]
            out.append(np.asarray(values, dtype=np.float32))
        return out

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int = 96, system: str | None = None
    ) -> list[str]:
        outputs = []
        for prompt in prompts:
            context, written = self.chat_prompt(prompt, system), ""
            for _ in range(max_new_tokens):
                nxt = chr(int(np.argmax(self._logits(context + written))))
                written += nxt
            outputs.append(written)
        return outputs
