"""Retrieval over the global compendium and the tool catalogue (faiss, cosine).

Documents are the compendium's entries (``Entry.render()``) plus one per
catalogue tool (name, description and arguments), so retrieval still works for
tools the federation has not written knowledge about. Every document belongs
to one tool; ranking tools takes each tool's best-matching document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from fical_secure.aggregate.merge import TextEncoder
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.schema import ToolSpec
from fical_secure.errors import RetrievalError
from fical_secure.kcg.schema import Compendium

Source = Literal["entry", "tool", "example"]


@dataclass(frozen=True)
class Hit:
    """One retrieved document: its text, the tool it is about and its cosine score."""

    tool: str
    text: str
    score: float
    source: Source


def describe_tool(spec: ToolSpec) -> str:
    """The catalogue document of a tool, as indexed and shown to the model."""
    args = ", ".join(f"{a.name} ({a.description})" for a in spec.args)
    return f"[{spec.name}] {spec.description} Arguments: {args}."


class ToolIndex:
    """A faiss inner-product index over unit vectors of tool knowledge.

    Raises (constructor):
        RetrievalError: faiss is missing or the embedder failed.
    """

    def __init__(
        self,
        embedder: TextEncoder,
        compendium: Compendium | None = None,
        catalogue: Sequence[ToolSpec] = CATALOGUE,
        *,
        include_catalogue: bool = True,
        examples: Sequence[tuple[str, str]] = (),
    ) -> None:
        known = {spec.name for spec in catalogue}
        docs: list[tuple[str, str, Source]] = []
        if include_catalogue:
            docs += [(spec.name, describe_tool(spec), "tool") for spec in catalogue]
        if compendium is not None:
            # entries about tools outside the catalogue cannot be called: skip them
            docs += [(e.tool, e.render(), "entry") for e in compendium.entries if e.tool in known]
        # raw demonstrations (tool, request): the sample-sharing reference, never a compendium
        docs += [(tool, text, "example") for tool, text in examples if tool in known]
        if not docs:
            raise RetrievalError("nothing to index: empty compendium and no catalogue")
        self._embedder = embedder
        self._docs = docs
        self.tools: tuple[str, ...] = tuple(spec.name for spec in catalogue)
        self._index = _flat_ip(embedder.encode([text for _, text, _ in docs]))

    def __len__(self) -> int:
        return len(self._docs)

    def search(self, requests: Sequence[str], k: int) -> list[list[Hit]]:
        """Top-``k`` documents for each request, best first (one batched query).

        Raises:
            RetrievalError: the embedder or faiss failed.
        """
        if k < 1:
            raise ValueError("k must be positive")
        if not requests:
            return []
        queries = self._embedder.encode(list(requests))
        try:
            scores, ids = self._index.search(queries, min(k, len(self._docs)))
        except Exception as exc:  # third-party boundary
            raise RetrievalError(f"faiss search failed: {exc}") from exc
        return [
            [self._hit(int(j), float(s)) for s, j in zip(row_s, row_i, strict=True) if j >= 0]
            for row_s, row_i in zip(scores, ids, strict=True)
        ]

    def retrieve(self, request: str, k: int) -> list[Hit]:
        """Top-``k`` documents for one request, best first."""
        return self.search([request], k)[0]

    def rank_tools(self, requests: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Every tool ranked by its best document's score, per request (ties by name)."""
        ranked = []
        for hits in self.search(requests, len(self._docs)):
            best: dict[str, float] = {}
            for hit in hits:
                best[hit.tool] = max(best.get(hit.tool, -1.0), hit.score)
            ranked.append(sorted(best.items(), key=lambda kv: (-kv[1], kv[0])))
        return ranked

    def _hit(self, i: int, score: float) -> Hit:
        tool, text, source = self._docs[i]
        return Hit(tool=tool, text=text, score=score, source=source)


def _flat_ip(vectors: np.ndarray[Any, Any]) -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise RetrievalError("faiss-cpu is not installed (extra 'retrieval')") from exc
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        raise RetrievalError("embedder returned no vectors to index")
    index = faiss.IndexFlatIP(matrix.shape[1])
    index.add(matrix)
    return index
