"""Decoding constrained to a JSON Schema, through xgrammar (Apache-2.0, mlc-ai).

xgrammar compiles a JSON Schema into a grammar over the model's tokenizer and
masks, at every step, the tokens that would break it, so a greedy completion
is JSON that the schema accepts (up to ``max_new_tokens``). It was chosen over
lm-format-enforcer and outlines on the same BFCL calls
(``benchmarks/results/constrained_decoding.json``): all three kept every output
valid; xgrammar was the fastest per call on a CPU, ships C++ masks with CUDA
kernels, and takes one grammar per batch row: :class:`GrammarMasks` keeps a
matcher per row for :mod:`fical_secure.llm.greedy`, which drops rows as they
finish. Compiled grammars are cached per schema text.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from fical_secure.errors import GenerationError, SchemaError

_INSTALL_HINT = (
    "install it: pip install --no-deps xgrammar==0.2.9 (its runtime comes with the llm extra)"
)
_CACHED_GRAMMARS = 256


class JsonGrammars:
    """Compiles (and caches) JSON Schema grammars for one tokenizer.

    Raises (constructor):
        GenerationError: xgrammar is not installed.
    """

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: list[int]) -> None:
        try:
            import xgrammar as xgr
        except ImportError as exc:
            raise GenerationError(
                f"schema-constrained decoding needs xgrammar; {_INSTALL_HINT}"
            ) from exc
        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids
        )
        self._compiler = xgr.GrammarCompiler(info, max_threads=2)
        self._cache: OrderedDict[str, Any] = OrderedDict()

    def compile(self, schema_json: str) -> Any:
        """The compiled grammar of one JSON Schema (JSON text), compact JSON output.

        Raises:
            SchemaError: xgrammar cannot compile the schema.
        """
        hit = self._cache.get(schema_json)
        if hit is not None:
            self._cache.move_to_end(schema_json)
            return hit
        try:
            grammar = self._compiler.compile_json_schema(schema_json, any_whitespace=False)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise SchemaError(
                f"the schema cannot be compiled for constrained decoding: {str(exc)[:200]}"
            ) from exc
        self._cache[schema_json] = grammar
        if len(self._cache) > _CACHED_GRAMMARS:
            self._cache.popitem(last=False)
        return grammar


class GrammarMasks:
    """One xgrammar matcher per prompt row (:class:`fical_secure.llm.greedy.RowMasks`).

    Each step fills, for the rows still decoding, the bitmask of the tokens
    their grammar allows and applies it to the logits; the token picked then
    advances the row's matcher. Single use: a matcher remembers its row's
    output.
    """

    def __init__(self, grammars: list[Any]) -> None:
        import xgrammar as xgr

        self.grammars = list(grammars)
        self._matchers = [xgr.GrammarMatcher(g) for g in grammars]
        vocab = grammars[0].tokenizer_info.vocab_size if grammars else 0
        self._bitmask = xgr.allocate_token_bitmask(max(1, len(grammars)), vocab)

    def apply(self, logits: Any, rows: Any) -> None:
        import xgrammar as xgr

        for j, row in enumerate(rows):
            self._matchers[row].fill_next_token_bitmask(self._bitmask, j)
        bitmask = self._bitmask[: len(rows)]
        if logits.device.type in ("cuda", "cpu"):  # xgrammar's two kernels
            xgr.apply_token_bitmask_inplace(logits, bitmask.to(logits.device))
        else:
            masked = logits.cpu()
            xgr.apply_token_bitmask_inplace(masked, bitmask)
            logits.copy_(masked)

    def accept(self, row: int, token: int) -> bool:
        matcher = self._matchers[row]
        if not matcher.accept_token(token):
            raise GenerationError(f"the grammar of row {row} refused token {token}")
        return bool(matcher.is_terminated())
