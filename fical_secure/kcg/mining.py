"""Mine checkable claims from one client's episodes, each backed by >= k distinct subjects.

For every enum value a client's calls use, the requests that asked for it
without writing any of its standard words (:func:`value_surfaces`) must have
said it some other way. A phrase is a candidate alias of the value when

- it occurs in such requests about at least ``min_support`` distinct
  subjects (patients, :mod:`fical_secure.kcg.subjects`; also a privacy
  floor, so no alias rests on one patient's records, however many);
- it names no known identifier of the hospital (a token that is a known
  name part or identifier, or words of a known value such as an address:
  :meth:`KnownIdentifiers.named_in`), so a patient's name is never an alias;
- each of its tokens is *clean* for the value: it occurs in no request whose
  call lacks the value, and in no request that wrote the value in standard
  words (so template words and other values' words are excluded);
- the value is not what the tool's calls write anyway: among the client's
  calls of the tool whose request lacks the phrase, at most
  :data:`MAX_RATE_WITHOUT` use the value (a constant such as
  ``units="celsius"`` is clean for every word of every request, and is a
  usual value, not an alias of "nyc");
- it is at most :data:`MAX_TOKENS` tokens, holds no word of the tool's own
  documentation, no standard word of any enum value of the tool, no English
  function word (:data:`STOPWORDS`) and nothing from an e-mail address;
- it explains requests no better phrase already explains: phrases are taken
  greedily by support, and each must cover ``min_support`` subjects that the
  phrases taken before it do not (a set cover, so one template word that
  happens to recur with the value does not ride along with the real alias).

The validator (:func:`supporting_episodes`) re-checks a finished claim
against the episodes from scratch, so a claim that reaches the compendium is
supported by construction and by an independent check.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fical_secure.data.schema import Episode, ToolSpec
from fical_secure.data.vocab import value_surfaces
from fical_secure.kcg.claims import ValueAlias
from fical_secure.kcg.subjects import Subjects, subjects_of
from fical_secure.scrub.known import KnownIdentifiers

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'+-]*")
_EMAIL = re.compile(r"\S+@\S+")
MAX_TOKENS = 3
MAX_RATE_WITHOUT = 0.5  # share of the tool's calls without the phrase that use the value
MAX_PHRASE_CHARS = 40
# English function words: never an alias on their own
STOPWORDS = frozenset(
    """
a an the and or but if of to in on at by for with from into onto about as is are was were be
been being do does did done have has had having can could will would shall should may might must
need needs needed please pls thanks thx it its this that these those there here what which who
whom whose when where why how any some all no not yes ok okay i me my we us our you your he him
his she her they them their one first last new now just also too very so than then up down out
over under again get got give put set let see show tell find check send run make want
""".split()
)


@dataclass(frozen=True)
class MinedClaim:
    """A claim and the ids of the episodes that support it."""

    claim: ValueAlias
    support: tuple[str, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    """(lower-case, as written) tokens of a request, e-mail addresses left out."""
    text = _EMAIL.sub(" ", text)
    return [(m.group(0).lower(), m.group(0)) for m in _TOKEN.finditer(text)]


def _doc_words(spec: ToolSpec) -> set[str]:
    """Lower-case tokens of a tool's documentation and of its enum values' standard words."""
    text = " ".join(
        [
            spec.name.replace("_", " "),
            spec.description,
            *(f"{a.name.replace('_', ' ')} {a.description}" for a in spec.args),
        ]
    )
    words = {t for t, _ in _tokens(text)}
    for arg in spec.args:
        for choice in arg.choices if arg.type == "enum" else ():
            for surface in value_surfaces(arg.name, choice):
                words |= {t for t, _ in _tokens(surface)}
    return words


def _mentions(text: str, surface: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(surface)}(?![a-z0-9])", text) is not None


def _enum_uses(episode: Episode, catalogue: Sequence[ToolSpec]) -> list[tuple[str, str]]:
    """(arg, value) of every enum argument of the episode's call."""
    spec = next((s for s in catalogue if s.name == episode.call.tool), None)
    if spec is None:
        return []
    return [
        (a.name, str(episode.call.arguments[a.name]))
        for a in spec.args
        if a.type == "enum" and a.name in episode.call.arguments
    ]


def _explicit(request: str, arg: str, value: str) -> bool:
    low = request.lower()
    return any(_mentions(low, s) for s in value_surfaces(arg, value))


@dataclass(frozen=True)
class _Rules:
    """What a phrase must clear: k distinct subjects and no known identifier."""

    min_support: int
    subjects: Subjects
    known: KnownIdentifiers

    def enough(self, episode_ids: Iterable[str]) -> bool:
        return self.subjects.count(episode_ids) >= self.min_support


def mine_aliases(
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    *,
    min_support: int = 2,
    known: KnownIdentifiers | None = None,
) -> list[MinedClaim]:
    """Value aliases that ``episodes`` support (see the module docstring), sorted.

    ``known``: the hospital's known identifiers (every episode's ``pii`` and
    its roster); a phrase that names one is never mined.
    """
    if min_support < 1:
        raise ValueError("min_support must be at least 1")
    rules = _Rules(min_support, subjects_of(episodes), known or KnownIdentifiers())
    uses = {e.episode_id: _enum_uses(e, catalogue) for e in episodes}
    postings: dict[str, set[str]] = defaultdict(set)  # token -> episodes whose request has it
    for e in episodes:
        for token, _ in _tokens(e.request):
            postings[token].add(e.episode_id)
    by_value: dict[str, list[tuple[Episode, str]]] = defaultdict(list)
    for e in episodes:
        for arg, value in uses[e.episode_id]:
            by_value[value].append((e, arg))
    mined: list[MinedClaim] = []
    for value, hits in sorted(by_value.items()):
        implicit = [(e, arg) for e, arg in hits if not _explicit(e.request, arg, value)]
        if not rules.enough(e.episode_id for e, _ in implicit):
            continue
        # a token seen where the value is absent or written in standard words is not the
        # alias: clean tokens occur only in requests that use the value implicitly
        implicit_ids = {e.episode_id for e, _ in implicit}
        seen = {t for e, _ in implicit for t, _ in _tokens(e.request)}
        dirty = {t for t in seen if not postings[t] <= implicit_ids}
        mined += _value_claims(value, implicit, dirty, catalogue, rules, episodes)
    return sorted(mined, key=lambda m: (m.claim.tool, m.claim.value, m.claim.phrase.lower()))


def _value_claims(
    value: str,
    implicit: list[tuple[Episode, str]],
    dirty: set[str],
    catalogue: Sequence[ToolSpec],
    rules: _Rules,
    episodes: Sequence[Episode],
) -> list[MinedClaim]:
    arg_of = Counter((e.call.tool, arg) for e, arg in implicit)
    (tool, arg), _n = arg_of.most_common(1)[0]
    banned = (
        dirty
        | STOPWORDS
        | set().union(*(_doc_words(s) for s in catalogue if s.name in {t for t, _ in arg_of}))
    )
    support: dict[str, set[str]] = defaultdict(set)
    written: dict[str, str] = {}
    for episode, _arg in implicit:
        tokens = _tokens(episode.request)
        for i in range(len(tokens)):
            for j in range(i + 1, min(i + MAX_TOKENS, len(tokens)) + 1):
                run = tokens[i:j]
                if run[-1][0] in dirty:
                    break
                low = " ".join(t for t, _ in run)
                if run[0][0] in banned or run[-1][0] in banned or _numeric(low):
                    continue
                support[low].add(episode.episode_id)
                written.setdefault(low, " ".join(w for _, w in run))
    ranked = sorted(
        (
            p
            for p, ids in support.items()
            if rules.enough(ids)
            and len(written[p]) <= MAX_PHRASE_CHARS
            and not rules.known.named_in(written[p])
            and not written_anyway(ValueAlias(tool, arg, written[p], value), episodes, catalogue)
        ),
        key=lambda p: (-rules.subjects.count(support[p]), -len(p), p),
    )
    covered: set[str] = set()
    kept: list[str] = []
    for phrase in ranked:  # greedy set cover of the implicit requests
        fresh = support[phrase] - covered
        if rules.enough(fresh) and not any(phrase in k or k in phrase for k in kept):
            kept.append(phrase)
            covered |= support[phrase]
    return [
        MinedClaim(ValueAlias(tool, arg, written[p], value), tuple(sorted(support[p])))
        for p in kept
    ]


def written_anyway(
    claim: ValueAlias, episodes: Sequence[Episode], catalogue: Sequence[ToolSpec]
) -> bool:
    """Whether the claim's value is written anyway: by more than :data:`MAX_RATE_WITHOUT`
    of the calls of its tool whose request lacks the phrase (or no call lacks it)."""
    phrase = claim.phrase.lower()
    without = [
        e
        for e in episodes
        if e.call.tool == claim.tool and not _mentions(e.request.lower(), phrase)
    ]
    if not without:
        return True  # no call without the phrase: nothing shows that it selects the value
    using = sum((claim.arg, claim.value) in _enum_uses(e, catalogue) for e in without)
    return using > MAX_RATE_WITHOUT * len(without)


def _numeric(phrase: str) -> bool:
    """Phrases that are only numbers or hold a long digit run (ids, doses, dates)."""
    return bool(re.fullmatch(r"[\d\s.,/-]+", phrase) or re.search(r"\d{3,}", phrase))


def supporting_episodes(
    claim: ValueAlias, episodes: Sequence[Episode], catalogue: Sequence[ToolSpec]
) -> tuple[str, ...] | None:
    """Ids of episodes that show ``claim``; ``None`` if any episode contradicts it.

    An episode shows the claim when its request contains the phrase and its
    call uses the value; it contradicts the claim when its request contains
    the phrase but its call does not use the value. Whether the tool's calls
    write the value anyway is :func:`written_anyway`'s question.
    """
    phrase = claim.phrase.lower()
    shown: list[str] = []
    for episode in episodes:
        if not _mentions(episode.request.lower(), phrase):
            continue
        if claim.value not in {v for _, v in _enum_uses(episode, catalogue)}:
            return None
        shown.append(episode.episode_id)
    return tuple(shown)
