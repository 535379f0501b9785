"""Per-record membership signals against a released artefact (signals (a)-(c)).

(a) Embedding similarity: the largest cosine between a record and any
    artefact item (MiniLM). Members that a compendium paraphrases or copies
    sit closer to some entry than non-members of the same distribution.
(b) Reference-calibrated log-likelihood: the record's mean token
    log-probability with the artefact in context minus the same with a
    reference artefact (public tool descriptions) in context, as in Wen et
    al.'s in-context membership inference: the difference cancels how likely
    the record is anyway and what any tool-use context does to it.
(c) Min-K% prob (Shi et al.): the mean of the lowest k% token log-probs of the
    record with the artefact in context, raw and reference-calibrated.
(f) Lexical overlap: the longest run of words a record shares with any item.
    Verbatim copying shows here even where sentence embeddings, dominated by
    the shared templates, barely move; it also names the copying item.

LLM cost is bounded: the context for a record is not the whole artefact but
its ``k`` items most similar to the record (what a deployed RAG agent would
retrieve), truncated to ``max_context_chars``; records are truncated to
``max_record_chars``; all texts go to :meth:`LLM.score` in one call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Protocol

import numpy as np
import numpy.typing as npt

from fical_secure.audit.artefact import SharedArtefact
from fical_secure.errors import AuditError, FicalError
from fical_secure.llm.base import LLM, LogProbs

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CONTEXT_HEADER = "Reference notes on clinical tools:\n"
RECORD_HEADER = "\n\nExample:\n"


class Embedder(Protocol):
    """Anything that embeds texts as L2-normalised rows (e.g. ``tlu.embedding.Embedder``)."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


@dataclass
class CachingEmbedder:
    """Memoises another embedder per text, so re-audits do not re-embed the same records."""

    inner: Embedder
    _cache: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict, repr=False)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            for text, vec in zip(todo, self.inner.encode(todo), strict=True):
                self._cache[text] = vec
        if not texts:
            return self.inner.encode([])
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)


@dataclass(frozen=True)
class Similarity:
    """Cosine similarities of records (rows) to artefact items (columns)."""

    sims: npt.NDArray[np.float32]

    def max_cosine(self) -> FloatArray:
        return np.asarray(self.sims.max(axis=1), dtype=np.float64)

    def argmax_item(self) -> IntArray:
        return np.asarray(self.sims.argmax(axis=1), dtype=np.int64)

    def top_items(self, k: int) -> IntArray:
        """Indices of each record's ``k`` most similar items, most similar first."""
        k = min(k, self.sims.shape[1])
        return np.asarray(np.argsort(-self.sims, axis=1, kind="stable")[:, :k], dtype=np.int64)


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, at a word boundary when possible."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space > max_chars // 2 else cut


def embedding_similarity(
    records: Sequence[str], artefact: SharedArtefact, embedder: Embedder
) -> Similarity:
    """Signal (a): cosine similarity of every record to every artefact item.

    Raises:
        AuditError: the artefact is empty, or the embedder failed.
    """
    if len(artefact) == 0:
        raise AuditError("the artefact has no items: there is nothing to audit or release")
    try:
        rec = embedder.encode(list(records))
        items = embedder.encode(list(artefact.texts))
    except FicalError as exc:
        raise AuditError(f"embedding signal failed: {exc}") from exc
    return Similarity(sims=np.clip(rec @ items.T, -1.0, 1.0).astype(np.float32))


_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def longest_common_runs(records: Sequence[str], artefact: SharedArtefact) -> IntArray:
    """Signal (f): ``runs[r, j]`` = longest run of consecutive words record r shares with item j."""
    items = [_words(t) for t in artefact.texts]
    runs = np.zeros((len(records), len(items)), dtype=np.int64)
    for r, record in enumerate(records):
        matcher = SequenceMatcher(None, autojunk=False)
        words = _words(record)
        matcher.set_seq2(words)  # seq2 is the one SequenceMatcher indexes: index it once
        for j, item in enumerate(items):
            matcher.set_seq1(item)
            runs[r, j] = matcher.find_longest_match(0, len(item), 0, len(words)).size
    return runs


def build_contexts(
    artefact: SharedArtefact, similarity: Similarity, k: int, max_chars: int
) -> list[str]:
    """One scoring prefix per record: its ``k`` nearest items, truncated, then the record header."""
    contexts = []
    for row in similarity.top_items(k):
        notes = "\n".join(artefact.texts[int(i)] for i in row)
        contexts.append(CONTEXT_HEADER + truncate(notes, max_chars) + RECORD_HEADER)
    return contexts


@dataclass(frozen=True)
class Likelihoods:
    """Token log-probs of each record with the target and with the reference context."""

    target: list[LogProbs]
    reference: list[LogProbs]

    def mean_loglik(self, *, reference: bool = False) -> FloatArray:
        """Mean token log-prob of each record with the artefact (or the reference) in context."""
        rows = self.reference if reference else self.target
        return np.array([_mean(lp) for lp in rows], dtype=np.float64)

    def calibrated_loglik(self) -> FloatArray:
        """Signal (b): mean log-prob with the artefact minus with the reference."""
        diff: FloatArray = self.mean_loglik() - self.mean_loglik(reference=True)
        return diff

    def min_k(self, fraction: float, *, reference: bool = False) -> FloatArray:
        """Signal (c): Min-K% prob of each record with the artefact (or reference) in context."""
        rows = self.reference if reference else self.target
        return np.array([min_k_prob(lp, fraction) for lp in rows], dtype=np.float64)

    def calibrated_min_k(self, fraction: float) -> FloatArray:
        diff: FloatArray = self.min_k(fraction) - self.min_k(fraction, reference=True)
        return diff


def _mean(logprobs: LogProbs) -> float:
    if logprobs.size == 0:
        raise AuditError("the LLM returned no token log-probs for a record")
    return float(np.mean(logprobs, dtype=np.float64))


def min_k_prob(logprobs: LogProbs, fraction: float) -> float:
    """Mean of the lowest ``ceil(fraction * n)`` token log-probs (Shi et al.'s Min-K% Prob).

    Raises:
        ValueError: ``fraction`` outside (0, 1].
        AuditError: no tokens.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError("fraction must lie in (0, 1]")
    if logprobs.size == 0:
        raise AuditError("the LLM returned no token log-probs for a record")
    k = max(1, math.ceil(fraction * logprobs.size))
    return float(np.mean(np.sort(logprobs.astype(np.float64))[:k]))


def likelihoods(
    records: Sequence[str],
    target_contexts: Sequence[str],
    reference_contexts: Sequence[str],
    llm: LLM,
    *,
    max_record_chars: int,
) -> Likelihoods:
    """Signals (b) and (c): score every record under both contexts in one batched call.

    Raises:
        AuditError: the LLM failed or returned the wrong number of results.
    """
    n = len(records)
    if len(target_contexts) != n or len(reference_contexts) != n:
        raise ValueError("one target and one reference context per record")
    texts = [truncate(r, max_record_chars) for r in records]
    try:
        scored = llm.score(texts + texts, list(target_contexts) + list(reference_contexts))
    except FicalError as exc:
        raise AuditError(f"likelihood signal failed: {exc}") from exc
    if len(scored) != 2 * n:
        raise AuditError(f"the LLM scored {len(scored)} texts, expected {2 * n}")
    return Likelihoods(target=scored[:n], reference=scored[n:])
