"""The spaCy side of the scrubber's analyzer: which pipes run, and the two added ones.

The parser, sentence splitter and lemmatizer are disabled (Presidio reads only
a lowercase lemma, set by ``LOWER_LEMMA``). The tagging pipes run only on docs
where the proper-noun name rule can fire (``NAME_TAGS``), and their part of
speech comes from the attribute ruler's own rules (``RulerPos``).
"""

from __future__ import annotations

from itertools import product
from typing import Any

import numpy

# spaCy components the analyzer does not use: the parser is the costliest, and
# Presidio's context words only need a lowercase "lemma" (set by LOWER_LEMMA).
_UNUSED_PIPES = ("parser", "senter", "lemmatizer")
LOWER_LEMMA = "fical_lower_lemma"
# Components whose only reader is the proper-noun rule of PersonNameHeuristicRecognizer
# (token.pos_; the NER has its own tok2vec): NAME_TAGS runs them on the docs where that
# rule can fire and skips the others.
_TAGGING_PIPES = ("tok2vec", "tagger", "attribute_ruler")
NAME_TAGS = "fical_name_tags"


def _register_lower_lemma() -> None:
    from spacy.language import Language

    if LOWER_LEMMA in Language.factories:
        return

    @Language.component(LOWER_LEMMA)
    def lower_lemma(doc: Any) -> Any:
        from spacy.attrs import LEMMA, LOWER

        if len(doc):  # one array copy: no Token object per token
            doc.from_array([LEMMA], doc.to_array([LOWER]))
        return doc


def _matches_no_label(value: object) -> bool:
    """Whether a DEP pattern value fails on every token without a dependency label ('')."""
    if isinstance(value, str):
        return value != ""
    if isinstance(value, dict) and len(value) == 1:
        ((op, items),) = value.items()
        return (op == "IN" and "" not in items) or (op == "NOT_IN" and "" in items)
    return False


def _choices(strings: Any, key: str, value: object) -> list[int] | None:
    """The array values a pattern value equals (a string, an IN list, a boolean), or None."""
    if key == "IS_SPACE":
        return [int(value)] if isinstance(value, bool) else None
    if isinstance(value, str):
        return [strings.add(value)]
    if isinstance(value, dict) and set(value) == {"IN"} and isinstance(value["IN"], list):
        if all(isinstance(v, str) for v in value["IN"]):
            return [strings.add(v) for v in value["IN"]]
    return None


class RulerPos:
    """The part of speech an attribute ruler sets, read from its rules without its matcher.

    spaCy's ``AttributeRuler`` runs a token matcher over every token of every
    doc; the name rule reads only ``pos_``, and the ruler's POS rules are
    single-token equality patterns (TAG, LOWER, IS_SPACE; DEP ones cannot match
    a doc the disabled parser never labelled). Such a pattern matches a token
    exactly when the token's values equal the pattern's, so a dictionary per
    attribute set gives the same answer; among matching rules the last one wins,
    as the ruler applies its matches in rule order. :meth:`build` returns None
    for a ruler with any other POS rule (the ruler then runs itself).
    """

    _ATTRS = ("TAG", "LOWER", "IS_SPACE")

    def __init__(self, tables: dict[tuple[str, ...], dict[tuple[int, ...], tuple[int, int]]]):
        self.tables = tables
        # the winning rule of each (TAG, LOWER, IS_SPACE) row, None where no rule matches
        self._rows: dict[tuple[int, ...], tuple[int, int] | None] = {}

    @classmethod
    def build(cls, ruler: Any) -> RulerPos | None:
        from spacy.parts_of_speech import IDS

        tables: dict[tuple[str, ...], dict[tuple[int, ...], tuple[int, int]]] = {}
        for order, rule in enumerate(ruler.patterns):
            if "POS" not in rule["attrs"]:
                continue
            pos = IDS.get(rule["attrs"]["POS"])
            for pattern in rule["patterns"]:
                if pos is None:
                    return None
                if any("DEP" in t and _matches_no_label(t["DEP"]) for t in pattern):
                    continue  # needs a dependency label; the parser is disabled
                if len(pattern) != 1 or "DEP" in pattern[0]:
                    return None
                token = pattern[0]
                keys = tuple(sorted(token))
                choices = [_choices(ruler.vocab.strings, key, token[key]) for key in keys]
                if not set(keys) <= set(cls._ATTRS) or any(c is None for c in choices):
                    return None
                table = tables.setdefault(keys, {})
                for values in product(*choices):  # type: ignore[arg-type]
                    table[values] = (order, pos)
        return cls(tables)

    def set_pos(self, doc: Any) -> None:
        """Set each token's POS as the ruler would (tokens no POS rule matches keep theirs)."""
        if not len(doc):
            return
        from spacy.attrs import IS_SPACE, LOWER, POS, TAG

        if doc.has_annotation("DEP"):
            raise ValueError("RulerPos reads docs without dependency labels only")
        columns = {"TAG": 0, "LOWER": 1, "IS_SPACE": 2}
        rows = doc.to_array([TAG, LOWER, IS_SPACE]).tolist()
        current = doc.to_array([POS]).tolist()
        lookups = [([columns[k] for k in keys], table) for keys, table in self.tables.items()]
        out = []
        for row, pos in zip(rows, current, strict=True):
            key = tuple(row)
            if key not in self._rows:
                if len(self._rows) > 200_000:  # bounded: texts bring new words without end
                    self._rows.clear()
                best: tuple[int, int] | None = None
                for cols, table in lookups:
                    hit = table.get(tuple(row[c] for c in cols))
                    if hit is not None and (best is None or hit[0] > best[0]):
                        best = hit
                self._rows[key] = best
            won = self._rows[key]
            out.append(pos if won is None else won[1])
        doc.from_array([POS], numpy.asarray(out, dtype="uint64").reshape(-1, 1))


class _NameTags:
    """Tag (tok2vec, tagger, attribute ruler's POS) only docs with two adjacent name-shaped tokens.

    A doc without such a pair has no proper-noun run for the name rule to
    read, whatever its tags; every other reader of the doc ignores tags. The
    attribute ruler's POS is set by :class:`RulerPos` (the same POS, without
    its matcher) where its rules allow.
    """

    def __init__(self, nlp: Any) -> None:
        names = [n for n in _TAGGING_PIPES if n in nlp.component_names]
        ruler = nlp.get_pipe("attribute_ruler") if "attribute_ruler" in names else None
        self.pos = RulerPos.build(ruler) if ruler is not None else None
        if self.pos is not None:
            names.remove("attribute_ruler")
        self.pipes = [nlp.get_pipe(name) for name in names]

    def _tag(self, docs: list[Any], batch_size: int) -> list[Any]:
        for pipe in self.pipes:
            if docs:
                docs = list(pipe.pipe(docs, batch_size=batch_size))
        if self.pos is not None:
            for doc in docs:
                self.pos.set_pos(doc)
        return docs

    def __call__(self, doc: Any) -> Any:
        from fical_secure.scrub.recognizers.names import may_hold_name_run

        if may_hold_name_run(doc):
            self._tag([doc], 1)
        return doc

    def pipe(self, docs: Any, batch_size: int = 128) -> Any:
        from spacy.util import minibatch

        from fical_secure.scrub.recognizers.names import may_hold_name_run

        for batch in minibatch(docs, batch_size):  # type: ignore[no-untyped-call]
            self._tag([doc for doc in batch if may_hold_name_run(doc)], batch_size)
            yield from batch


def _register_name_tags() -> None:
    from spacy.language import Language

    if NAME_TAGS in Language.factories:
        return

    @Language.factory(NAME_TAGS)
    def name_tags(nlp: Any, name: str) -> _NameTags:
        return _NameTags(nlp)


def slim_pipeline(nlp: Any) -> None:
    """Disable the parser and lemmatizer, set lowercase lemmas, tag only where names may run."""
    _register_lower_lemma()
    _register_name_tags()
    for name in _UNUSED_PIPES + _TAGGING_PIPES:
        if name in nlp.pipe_names:
            nlp.disable_pipe(name)
    if NAME_TAGS not in nlp.component_names:
        nlp.add_pipe(NAME_TAGS, last=True)
    if LOWER_LEMMA not in nlp.component_names:
        nlp.add_pipe(LOWER_LEMMA, last=True)
