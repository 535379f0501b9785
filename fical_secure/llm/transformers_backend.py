"""The :class:`~fical_secure.llm.base.LLM` interface over a local transformers model.

Generation is greedy (deterministic) under ``torch.inference_mode``; prompts
are sorted by length before batching so that padding stays small and batch
composition does not depend on input order, and a batch drops its rows as
they finish (:mod:`fical_secure.llm.greedy`).
Scoring runs the same weights but computes log-softmax in float32 on the
positions of the scored text only (``logits_to_keep``), so memory stays
proportional to the text, not to the vocabulary times the context.
``next_token_logprobs`` keeps only the last position: one forward pass per
context gives the log-probs of every possible first token, which is what
scoring many candidates' first tokens after one prompt needs. Texts scored
after the same context share one pass of it (:mod:`fical_secure.llm.prefix`).

On CUDA, for Llama-family models, plain generation and the scoring of whole
rows run through the fast paths of :mod:`fical_secure.llm.routing`; other
models, constrained decoding and the CPU keep the transformers paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fical_secure.errors import GenerationError
from fical_secure.llm.base import LogProbs
from fical_secure.llm.batching import length_sorted_chunks
from fical_secure.llm.constrained import GrammarMasks, JsonGrammars
from fical_secure.llm.greedy import DEFAULT_DECODE_ROWS, DEFAULT_DECODE_ROWS_CUDA
from fical_secure.llm.prefix import DEFAULT_MIN_SHARED_TEXTS, ContextCache, score_after_contexts
from fical_secure.llm.routing import FastPaths, generate_new_ids, next_token_rows, score_rows

if TYPE_CHECKING:
    import torch

DEFAULT_MAX_BATCH_SIZE = 16


@dataclass
class GenerationUsage:
    """Running totals of the work a backend did (for throughput reports)."""

    prompt_tokens: int = 0
    new_tokens: int = 0
    scored_tokens: int = 0
    context_tokens: int = 0  # tokens run as scoring contexts (not counting cache hits)
    seconds: float = 0.0


class TransformersLLM:
    """A causal language model and its tokenizer, implementing ``LLM``."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        generation_model: Any | None = None,
        load_generation_model: Callable[[], Any] | None = None,
        reuse_prefix: bool = True,
        context_cache_bytes: int = 0,
        min_shared_texts: int = DEFAULT_MIN_SHARED_TEXTS,
        decode_rows: int | None = None,
        fast_paths: bool | None = None,
        compile_fast_paths: bool = False,
    ) -> None:
        """Wrap ``model`` (used for scoring) and, optionally, a faster copy for generation.

        On CPU the loader passes a float32 ``model`` (exact log-probs for audits)
        and a bfloat16 ``generation_model`` (about twice as fast to generate with),
        or ``load_generation_model`` to load it on the first generation only (a
        round that only scores never pays for it).
        ``reuse_prefix`` scores the texts that share a context (at least
        ``min_shared_texts`` of them) after one pass of that context
        (:mod:`fical_secure.llm.prefix`); ``context_cache_bytes`` keeps context
        states across calls too (0: within a call only).
        ``decode_rows`` prompts decode as one batch on the transformers path
        (:mod:`fical_secure.llm.greedy`), prefilled ``max_batch_size`` at a time;
        default ``DEFAULT_DECODE_ROWS``, ``DEFAULT_DECODE_ROWS_CUDA`` on CUDA.
        ``fast_paths`` (default: on CUDA) runs supported models through
        :mod:`fical_secure.llm.decode` and :mod:`fical_secure.llm.layers`,
        ``compile_fast_paths`` compiles them with ``torch.compile``.
        """
        if decode_rows is None:
            on_cuda = next(model.parameters()).device.type == "cuda"
            decode_rows = DEFAULT_DECODE_ROWS_CUDA if on_cuda else DEFAULT_DECODE_ROWS
        if max_batch_size < 1 or decode_rows < 1:
            raise ValueError("max_batch_size and decode_rows must be at least 1")
        self.model = model.eval()
        self._generation_model = None if generation_model is None else generation_model.eval()
        self._load_generation = load_generation_model
        self.tokenizer = tokenizer
        self.name = name
        self.max_batch_size = max_batch_size
        self.decode_rows = decode_rows
        self.usage = GenerationUsage()
        self.reuse_prefix = reuse_prefix
        self.min_shared_texts = max(1, min_shared_texts)
        self.context_cache = ContextCache(context_cache_bytes)
        pad = tokenizer.pad_token_id
        self._pad_id: int = int(pad if pad is not None else tokenizer.eos_token_id)
        start = tokenizer.bos_token_id
        self._start_id: int = int(start if start is not None else tokenizer.eos_token_id)
        self._max_len: int = int(getattr(model.config, "max_position_embeddings", 2048))
        self._grammars: JsonGrammars | None = None
        self._fast = FastPaths(fast_paths, compile=compile_fast_paths)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device  # type: ignore[no-any-return]

    @property
    def generation_model(self) -> Any:
        """The model generation runs on (loaded now if it was deferred; else the scoring one)."""
        if self._generation_model is None:
            load, self._load_generation = self._load_generation, None
            self._generation_model = (load() if load is not None else self.model).eval()
        return self._generation_model

    def __repr__(self) -> str:
        generation = self._generation_model
        dtype = "not loaded" if generation is None else generation.dtype
        return (
            f"TransformersLLM(name={self.name!r}, device={self.device}, "
            f"score_dtype={self.model.dtype}, generation_dtype={dtype})"
        )

    def _fast_path(self, role: str) -> Any | None:
        """The decoder (``role="decode"``) or scorer (``"score"``) of the role's model, or
        ``None`` where the transformers path runs (:class:`~fical_secure.llm.routing.FastPaths`)."""
        return self._fast.get(role, self.generation_model if role == "decode" else self.model)

    # --- prompting -------------------------------------------------------------
    def chat_prompt(self, user: str, system: str | None = None) -> str:
        """The model's chat template for one user turn, ending where the assistant speaks."""
        if not getattr(self.tokenizer, "chat_template", None):
            head = f"{system}\n\n" if system else ""
            return f"{head}{user}\n"
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}
        ]
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return str(text)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` alone, without special tokens (what ``score`` scores)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def first_token_id(self, text: str, context: str) -> int:
        """Id of the token ``text`` starts with when :meth:`score` scores it after ``context``.

        ``score`` tokenizes the text alone and appends it to the context's
        tokens, so the boundary does not depend on ``context`` here; the
        argument is part of the interface for backends that tokenize jointly.

        Raises:
            ValueError: ``text`` has no tokens.
        """
        ids = self.encode(text)
        if not ids:
            raise ValueError("an empty text has no first token")
        return ids[0]

    def _context_ids(self, context: str, n_text: int) -> list[int]:
        """Token ids of a scoring context: BOS/EOS when empty, cut from the left to fit."""
        ids = self.encode(context) or [self._start_id]
        return ids[-(self._max_len - n_text) :]

    # --- generation ------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 96,
        system: str | None = None,
    ) -> list[str]:
        """Greedy completions of user messages, batched; output order matches input.

        Raises:
            GenerationError: the backend failed (out of memory, bad input, ...).
        """
        return self._generate_all(prompts, system, max_new_tokens)

    def generate_json(
        self,
        prompts: Sequence[str],
        schemas: Sequence[str],
        *,
        max_new_tokens: int = 128,
        system: str | None = None,
    ) -> list[str]:
        """Greedy completions of user messages, each constrained to its JSON Schema (JSON text).

        Batched like :meth:`generate`, one grammar per row (:mod:`fical_secure.llm.constrained`).
        An output cut off by ``max_new_tokens`` is unfinished JSON: callers validate.

        Raises:
            SchemaError: a schema cannot be compiled.
            GenerationError: xgrammar is missing or the backend failed.
        """
        if len(prompts) != len(schemas):
            raise ValueError("generate_json needs one schema per prompt")
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        grammars = self._json_grammars()
        compiled = [grammars.compile(s) for s in schemas]
        return self._generate_all(prompts, system, max_new_tokens, compiled)

    def _generate_all(
        self,
        prompts: Sequence[str],
        system: str | None,
        max_new_tokens: int,
        compiled: list[Any] | None = None,
    ) -> list[str]:
        """Each prompt's completion (under its compiled grammar where given), the prompts in
        length-sorted groups: batches of the fast decoder, or of
        :func:`fical_secure.llm.greedy.greedy_new_ids` (which prefills in batches)."""
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        encoded = [self.encode(self.chat_prompt(p, system)) for p in prompts]
        outputs: list[str] = [""] * len(encoded)
        fast = compiled is None and self._fast_path("decode") is not None
        size = self.max_batch_size if fast else max(self.max_batch_size, self.decode_rows)
        kind = "generation" if compiled is None else "constrained generation"
        try:
            for chunk in length_sorted_chunks(encoded, size):
                masks = None if compiled is None else GrammarMasks([compiled[i] for i in chunk])
                done = self._generate_batch([encoded[i] for i in chunk], max_new_tokens, masks)
                for i, out in zip(chunk, done, strict=True):
                    outputs[i] = out
        except GenerationError:
            raise
        except (RuntimeError, ValueError, IndexError, TypeError, AssertionError) as exc:
            raise GenerationError(f"{kind} with {self.name} failed: {exc}") from exc
        return outputs

    def _json_grammars(self) -> JsonGrammars:
        if self._grammars is None:
            net = self.generation_model
            eos = net.generation_config.eos_token_id
            stops = [int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None]
            self._grammars = JsonGrammars(self.tokenizer, int(net.config.vocab_size), stops)
        return self._grammars

    def _generate_batch(
        self, batch: list[list[int]], max_new_tokens: int, masks: GrammarMasks | None = None
    ) -> list[str]:
        room = self._max_len - max_new_tokens
        if any(len(ids) > room for ids in batch):
            raise GenerationError(
                f"a prompt is longer than {room} tokens, the most {self.name} can take with "
                f"max_new_tokens={max_new_tokens}; shorten the prompt"
            )
        eos = self.generation_model.generation_config.eos_token_id
        eos_ids = {int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None}
        decoder = self._fast_path("decode") if masks is None else None
        started = time.perf_counter()
        net, pad = self.generation_model, self._pad_id
        new = generate_new_ids(
            net,
            decoder,
            batch,
            max_new_tokens,
            eos_ids=eos_ids,
            pad_id=pad,
            prefill_rows=self.max_batch_size,
            masks=masks,
        )
        self.usage.seconds += time.perf_counter() - started
        self.usage.prompt_tokens += sum(len(ids) for ids in batch)
        not_new = eos_ids | {self._pad_id}
        self.usage.new_tokens += sum(t not in not_new for row in new for t in row)
        return [str(t) for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

    # --- scoring ---------------------------------------------------------------
    def score(self, texts: Sequence[str], contexts: Sequence[str]) -> list[LogProbs]:
        """Per-token log-probs of ``texts[i]`` (tokenized alone) after raw ``contexts[i]``.

        The text's tokens are exactly ``encode(texts[i])``, appended to the
        context's tokens (an empty context starts from the BOS/EOS token); a long
        context is cut from the left. An empty text gives an empty array. With
        ``reuse_prefix`` the texts of one context run after a single pass of it.

        Raises:
            GenerationError: the backend failed, or a text alone exceeds the model's length.
        """
        if len(texts) != len(contexts):
            raise ValueError("texts and contexts must have the same length")
        pairs = [self._scoring_ids(t, c) for t, c in zip(texts, contexts, strict=True)]
        results: list[LogProbs] = [np.zeros(0, dtype=np.float32) for _ in pairs]
        todo = [i for i, (_, text_ids) in enumerate(pairs) if text_ids]
        try:
            if self.reuse_prefix:
                self._score_shared(pairs, todo, results)
            else:
                self._score_rows(pairs, todo, results)
        except (RuntimeError, ValueError, IndexError, TypeError) as exc:
            raise GenerationError(f"scoring with {self.name} failed: {exc}") from exc
        return results

    def _scoring_ids(self, text: str, context: str) -> tuple[list[int], list[int]]:
        """(context ids, text ids) of one scored pair, the context cut to fit the text."""
        text_ids = self.encode(text)
        if len(text_ids) >= self._max_len:
            raise GenerationError(
                f"a text of {len(text_ids)} tokens exceeds {self.name}'s limit of "
                f"{self._max_len}; score shorter texts"
            )
        return self._context_ids(context, len(text_ids)), text_ids

    def _score_rows(
        self, pairs: list[tuple[list[int], list[int]]], todo: list[int], results: list[LogProbs]
    ) -> None:
        """Each pair as one ``context + text`` row, in length-sorted batches."""
        rows = [pairs[i][0] + pairs[i][1] for i in todo]
        for chunk in length_sorted_chunks(rows, self.max_batch_size):
            idx = [todo[j] for j in chunk]
            scored = self._score_batch([rows[j] for j in chunk], [len(pairs[i][1]) for i in idx])
            for i, values in zip(idx, scored, strict=True):
                results[i] = values

    def _score_shared(
        self, pairs: list[tuple[list[int], list[int]]], todo: list[int], results: list[LogProbs]
    ) -> None:
        """Pairs grouped by context: one pass (or a cache hit) per shared context, then the
        new texts of every such context in length-sorted batches, texts after different
        contexts side by side; the texts of contexts with few texts run as whole rows."""
        import torch

        groups: dict[tuple[int, ...], list[int]] = {}
        for i in todo:
            groups.setdefault(tuple(pairs[i][0]), []).append(i)
        few = [i for m in groups.values() if len(m) < self.min_shared_texts for i in m]
        self._score_rows(pairs, few, results)
        started = time.perf_counter()
        with torch.inference_mode():
            states = {}
            for context, members in groups.items():
                if len(members) >= self.min_shared_texts:
                    misses = self.context_cache.misses
                    states[context] = self.context_cache.state(self.model, context, self.device)
                    self.usage.context_tokens += len(context) * (self.context_cache.misses - misses)
            texts = {c: [tuple(pairs[i][1]) for i in groups[c]] for c in states}
            self.usage.scored_tokens += score_after_contexts(
                self.model, states, texts, self._pad_id, self.device, self.max_batch_size
            )
            for context, state in states.items():
                for i in groups[context]:
                    results[i] = state.scored[tuple(pairs[i][1])].copy()
        self.usage.seconds += time.perf_counter() - started

    def _score_batch(self, rows: list[list[int]], n_text: list[int]) -> list[LogProbs]:
        started = time.perf_counter()
        self.usage.scored_tokens += sum(n_text)
        self.usage.context_tokens += sum(len(r) for r in rows) - sum(n_text)
        values = score_rows(self.model, self._fast_path("score"), rows, n_text, self._pad_id)
        self.usage.seconds += time.perf_counter() - started
        return values

    def next_token_logprobs(self, contexts: Sequence[str]) -> list[LogProbs]:
        """Log-softmax (float32, whole vocabulary) of the next token after each raw context.

        Contexts are tokenized as in :meth:`score` (alone, an empty one starts
        from the BOS/EOS token, a long one is cut from the left to leave room
        for one token), batched with left padding, one forward pass each, and
        only the last position's logits are computed. Thus
        ``next_token_logprobs([c])[0][first_token_id(t, c)]`` equals
        ``score([t], [c])[0][0]`` (up to float rounding) whenever ``c`` is not
        cut differently, i.e. fits in ``max_len - len(encode(t))`` tokens.

        Raises:
            GenerationError: the backend failed.
        """
        results: list[LogProbs] = [np.zeros(0, dtype=np.float32) for _ in contexts]
        try:
            rows = [self._context_ids(c, 1) for c in contexts]
            for chunk in length_sorted_chunks(rows, self.max_batch_size):
                values = self._next_token_batch([rows[i] for i in chunk])
                for i, row in zip(chunk, values, strict=True):
                    results[i] = row
        except (RuntimeError, ValueError, IndexError, TypeError) as exc:
            raise GenerationError(f"next-token scoring with {self.name} failed: {exc}") from exc
        return results

    def _next_token_batch(self, rows: list[list[int]]) -> list[LogProbs]:
        started = time.perf_counter()
        values = next_token_rows(self.model, rows, self._pad_id, self.device)
        self.usage.seconds += time.perf_counter() - started
        self.usage.scored_tokens += len(rows)
        return values
