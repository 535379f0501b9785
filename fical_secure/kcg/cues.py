"""Mine tool-selection cues: request phrases that say which tool a request calls.

Real logs teach which wording means which tool ("rain tomorrow" -> a weather
tool) more often than argument aliases. A phrase (a word n-gram of 1 to
:data:`MAX_TOKENS` normalised tokens, not starting or ending with an English
function word, a contraction or a token under three characters, not numeric)
is a cue for tool ``T`` when

- it occurs in requests calling ``T`` about at least ``min_support`` distinct
  subjects (:mod:`fical_secure.kcg.subjects`; the privacy floor: one patient
  seen many times is one subject);
- its precision for ``T``, the share of all local requests containing it
  that call ``T``, is at least ``min_precision`` with confidence: the lower
  Wilson bound (at ``precision_z``) of that share, not the share itself, must
  reach it. A phrase seen in a handful of requests that all happen to call
  ``T`` ("mentioned" in 5 of 5) is chance more often than a cue; selected on
  its point estimate it would be picked because of those very records, so the
  release would be likelier to quote a member's request than a non-member's
  (a membership signal: ``benchmarks/results/leakage_quick.json``'s notes);
- it shares no token with a known identifier of the hospital
  (:meth:`KnownIdentifiers.named_in`, token by token).

A tool keeps at most ``per_tool`` cues, best by subject support, then
precision, then the shorter (it recurs in more new requests), and none inside
another kept one. An entry must not
reproduce a request: when one request's tokens are mostly
(``max_cover``) spelled out by the entry's phrases, the weakest phrase is
dropped until none is. :func:`verify_cue` re-checks a finished cue against the
episodes from scratch (phrase matching by :func:`phrase_in`, not the miner's
n-gram tables).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from fical_secure.data.schema import Episode
from fical_secure.kcg.claims import ToolCue
from fical_secure.kcg.mining import MAX_TOKENS, STOPWORDS, _numeric, _tokens
from fical_secure.kcg.subjects import Subjects, subjects_of
from fical_secure.scrub.known import KnownIdentifiers
from fical_secure.stats import wilson_bounds


@dataclass(frozen=True)
class CueRules:
    """Thresholds a cue must clear (k subjects, precision, per-tool cap, request cover)."""

    min_support: int = 2
    min_precision: float = 0.8
    per_tool: int = 5
    max_cover: float = 0.5
    # the precision a cue must show is the Wilson lower bound at this z (0, the default: the
    # point estimate; KnowledgeConfig says why the 95% bound is opt-in)
    precision_z: float = 0.0

    def __post_init__(self) -> None:
        if self.min_support < 1 or self.per_tool < 1:
            raise ValueError("min_support and per_tool must be at least 1")
        if not 0.0 < self.min_precision <= 1.0 or not 0.0 < self.max_cover <= 1.0:
            raise ValueError("min_precision and max_cover must be in (0, 1]")
        if not 0.0 <= self.precision_z <= 10.0:
            raise ValueError("precision_z must be in [0, 10]")

    def precision(self, for_tool: int, anywhere: int) -> float:
        """The precision a phrase is held to: the lower Wilson bound of ``for_tool / anywhere``."""
        return wilson_bounds(for_tool, anywhere, self.precision_z)[0]


def words(text: str) -> list[str]:
    """The normalised (lower-case) tokens a cue is matched on."""
    return [t for t, _ in _tokens(text)]


def fold_plural(token: str) -> str:
    """A token with its English plural ending folded (``movies`` -> ``movie``).

    Light on purpose: only a final ``-s`` (not ``-ss``, ``-us``, ``-is``) of words of four
    letters or more, so ``bus``, ``class`` and ``analysis`` stay as they are.
    """
    if len(token) >= 4 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def phrase_in(request_words: Sequence[str], phrase: str) -> bool:
    """Whether ``phrase``'s tokens occur contiguously in the request's tokens."""
    target = phrase.split()
    n = len(target)
    return any(list(request_words[i : i + n]) == target for i in range(len(request_words) - n + 1))


def _weak(token: str) -> bool:
    """A token that cannot start or end a cue: a function word, a contraction, under 3 letters."""
    return token in STOPWORDS or "'" in token or len(token) < 3


def ngrams(tokens: Sequence[str]) -> set[str]:
    """The request's candidate phrases: 1 to MAX_TOKENS tokens, no weak or numeric ends."""
    grams = set()
    for i in range(len(tokens)):
        for j in range(i + 1, min(i + MAX_TOKENS, len(tokens)) + 1):
            run = tokens[i:j]
            if _weak(run[0]) or _weak(run[-1]):
                continue
            gram = " ".join(run)
            if not _numeric(gram):
                grams.add(gram)
    return grams


def mine_cues(
    episodes: Sequence[Episode],
    *,
    rules: CueRules | None = None,
    known: KnownIdentifiers | None = None,
) -> list[ToolCue]:
    """The tool-selection cues ``episodes`` support (see the module docstring), by tool."""
    rules = rules or CueRules()
    known = known or KnownIdentifiers()
    subjects = subjects_of(episodes)
    tokens = {e.episode_id: words(e.request) for e in episodes}
    anywhere: dict[str, set[str]] = defaultdict(set)
    for_tool: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in episodes:
        for gram in ngrams(tokens[e.episode_id]):
            anywhere[gram].add(e.episode_id)
            for_tool[(e.call.tool, gram)].add(e.episode_id)
    ranked: dict[str, list[tuple[int, float, int, str]]] = defaultdict(list)
    for (tool, gram), ids in for_tool.items():
        support = subjects.count(ids)
        precision = rules.precision(len(ids), len(anywhere[gram]))
        if support < rules.min_support or precision < rules.min_precision:
            continue
        if any(known.named_in(word) for word in gram.split()):
            continue
        ranked[tool].append((-support, -precision, len(gram.split()), gram))
    cues = []
    for tool in sorted(ranked):
        kept: list[str] = []
        for *_, gram in sorted(ranked[tool]):
            if len(kept) < rules.per_tool and not any(gram in k or k in gram for k in kept):
                kept.append(gram)
        kept = _not_reproducing(kept, [tokens[e.episode_id] for e in episodes], rules.max_cover)
        if kept:
            cues.append(ToolCue(tool, tuple(kept)))
    return cues


def cover(phrases: Sequence[str], request_words: Sequence[str]) -> float:
    """Share of a request's tokens that the phrases occurring in it spell out."""
    covered: set[int] = set()
    for phrase in phrases:
        target = phrase.split()
        for i in range(len(request_words) - len(target) + 1):
            if list(request_words[i : i + len(target)]) == target:
                covered |= set(range(i, i + len(target)))
    return len(covered) / len(request_words) if request_words else 0.0


def _not_reproducing(
    phrases: list[str], requests: Sequence[Sequence[str]], max_cover: float
) -> list[str]:
    """The phrases, weakest dropped until no request is mostly spelled out by them."""
    kept = list(phrases)
    while kept and any(cover(kept, r) >= max_cover for r in requests):
        kept.pop()
    return kept


def reproduces_a_request(cue: ToolCue, episodes: Sequence[Episode], max_cover: float) -> bool:
    """Whether the cue's phrases spell out most of one request (the entry-level check)."""
    return any(cover(cue.phrases, words(e.request)) >= max_cover for e in episodes)


def verify_cue(
    cue: ToolCue,
    episodes: Sequence[Episode],
    rules: CueRules,
    known: KnownIdentifiers | None = None,
    subjects: Subjects | None = None,
) -> int | None:
    """Distinct subjects whose requests show ``cue``; ``None`` if any phrase fails a rule.

    Recomputed from the episodes alone: per phrase its subject support for the
    tool and its precision; then the known-identifier and reproduction checks.
    """
    known = known or KnownIdentifiers()
    subjects = subjects or subjects_of(episodes)
    tokenised = [(e, words(e.request)) for e in episodes]
    shown: set[str] = set()
    for phrase in cue.phrases:
        hits = [e for e, w in tokenised if phrase_in(w, phrase)]
        ids = [e.episode_id for e in hits if e.call.tool == cue.tool]
        if not hits or rules.precision(len(ids), len(hits)) < rules.min_precision:
            return None
        if subjects.count(ids) < rules.min_support:
            return None
        if any(known.named_in(word) for word in phrase.split()):
            return None
        shown |= set(ids)
    if reproduces_a_request(cue, episodes, rules.max_cover):
        return None
    return subjects.count(shown)
