"""Mine argument knowledge from call logs: shapes, usual values, omitted optionals, normalisations.

Real logs teach how a tool's arguments are written as much as which tool to
call. Per (tool, argument path) (dotted for object members; the items of an
array share the array's path), with ``k = min_support`` distinct subjects
(:mod:`fical_secure.kcg.subjects`, the privacy floor):

- **shape** (:class:`ArgumentShape`): for a free-text argument (a string
  without enum or pattern), the most specific shape of :mod:`.shapes` that at
  least ``min_shape_share`` of its written values have, the calls whose values
  all have it coming from k subjects;
- **usual value** (:class:`UsualValue`): a value written in calls of k
  subjects whose requests do not give it, and in more than
  ``min_usual_share`` of the tool's calls whose requests do not give it
  (a request gives a value that it writes verbatim, shares a content word
  with, or says through one of its mined normalisation phrases);
- **omitted** (:class:`OmittedArgument`): a schema-optional argument absent
  from more than ``min_omitted_share`` of the tool's calls (those whose parent
  object is present), the absent ones from k subjects;
- **default year** (:class:`DefaultYear`): for a free-text argument whose
  values are dates, the year more than ``min_usual_share`` of the calls write
  where the request names no year, those calls from k subjects
  (:func:`~fical_secure.kcg.argforms.year_shown`);
- **normalisation** (:class:`Normalisation`): a request phrase (as cues cut
  them, :func:`~fical_secure.kcg.cues.ngrams`) for a free-text value the
  request does not contain verbatim ("nyc" -> ``"New York, NY"``), seen with
  that value in k subjects' calls, the value written in ``min_precision`` of
  the tool's calls whose request has the phrase and in at most
  ``min_usual_share`` of the others (so a default that every call writes is
  no normalisation of any phrase). The phrase holds no word of the tool's
  documentation that is not a word of the value, and no word of another
  value the same call writes ("francisco to los" is two values). Phrases
  related to the value (a shared word, an abbreviation either way:
  :func:`~fical_secure.kcg.argvalues.related`) go first, then by support,
  then the fewer words unrelated to the value, then the longer related phrase
  (it names more of the value) or the shorter unrelated one (it recurs in
  more new requests), as a set cover of the value's calls, at most
  ``per_value``; an unrelated phrase must be specific to the value across
  all the client's requests (``min_precision`` of those that have it write it).

No usual value or normalisation is longer than ``max_value_chars`` or holds a
run of five digits (identifiers, not conventions), and none whose phrase or
value shares a token with a known identifier of the hospital
(:meth:`KnownIdentifiers.named_in`). No claim may spell out most
(``max_cover``) of one request. :func:`~fical_secure.kcg.argverify.verify_argument_claim`
re-checks a finished claim by scanning the episodes again, not the miner's
tables.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from fical_secure.data.schema import ArgSpec, ArgValue, Episode, ToolSpec
from fical_secure.kcg.argforms import suffix_shown, year_shown
from fical_secure.kcg.argvalues import (
    arg_paths,
    content_words,
    doc_words,
    free_text,
    loads,
    mentions,
    related,
    says,
    strings_at,
    values_at,
)
from fical_secure.kcg.claims import (
    ArgumentClaim,
    ArgumentShape,
    DefaultYear,
    Normalisation,
    OmittedArgument,
    UsualSuffix,
    UsualValue,
    value_json,
)
from fical_secure.kcg.cues import cover, ngrams, phrase_in, words
from fical_secure.kcg.mining import STOPWORDS
from fical_secure.kcg.shapes import first_fit
from fical_secure.kcg.subjects import Subjects, subjects_of
from fical_secure.scrub.known import KnownIdentifiers

_ID_DIGITS = re.compile(r"\d{5,}")


@dataclass(frozen=True)
class ArgumentRules:
    """Thresholds argument claims must clear (see the module docstring)."""

    min_support: int = 2
    min_shape_share: float = 0.9
    min_usual_share: float = 0.5
    min_omitted_share: float = 0.5
    min_precision: float = 0.8
    per_value: int = 3
    max_cover: float = 0.5
    max_value_chars: int = 60

    def __post_init__(self) -> None:
        if self.min_support < 1 or self.per_value < 1 or self.max_value_chars < 1:
            raise ValueError("min_support, per_value and max_value_chars must be at least 1")
        shares = (self.min_shape_share, self.min_precision, self.max_cover)
        if not all(0.0 < s <= 1.0 for s in shares):
            raise ValueError("min_shape_share, min_precision and max_cover must be in (0, 1]")
        if not all(0.0 <= s < 1.0 for s in (self.min_usual_share, self.min_omitted_share)):
            raise ValueError("min_usual_share and min_omitted_share must be in [0, 1)")


@dataclass
class ClaimChecks:
    """What every argument claim is checked against, beside its own statistics
    (shared with :mod:`fical_secure.kcg.argverify`)."""

    rules: ArgumentRules
    subjects: Subjects
    known: KnownIdentifiers
    requests: list[list[str]]
    written: list[set[str]]  # per episode: the string values its call writes, as JSON
    postings: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))

    def __post_init__(self) -> None:
        for i, tokens in enumerate(self.requests):
            for token in tokens:
                self.postings[token].add(i)

    def enough(self, episode_ids: Sequence[str] | set[str]) -> bool:
        return self.subjects.count(episode_ids) >= self.rules.min_support

    def releasable(self, phrase: str, value: str) -> bool:
        """Not identifier-like, no known identifier, no request mostly spelled out."""
        leaves = " ".join(strings_at([loads(value)])) or value
        if len(value) > self.rules.max_value_chars or _ID_DIGITS.search(value):
            return False
        text = f"{phrase} {leaves}".strip()
        if self.known.named_in(leaves) or any(self.known.named_in(w) for w in words(text)):
            return False
        tokens = sorted(set(words(text)))
        near = set().union(*(self.postings.get(t, set()) for t in tokens)) if tokens else set()
        return not any(cover(tokens, self.requests[i]) >= self.rules.max_cover for i in near)

    def specific(self, phrase: str, value: str) -> bool:
        """A phrase unrelated to the value must point at it across all the client's requests:
        ``min_precision`` of the requests that have it call with that value somewhere."""
        if related(phrase, str(loads(value))):
            return True
        tokens = phrase.split()
        near = set.intersection(*(self.postings.get(t, set()) for t in tokens))
        hits = [i for i in near if phrase_in(self.requests[i], phrase)]
        return bool(hits) and sum(value in self.written[i] for i in hits) >= (
            self.rules.min_precision * len(hits)
        )


def claim_checks(
    episodes: Sequence[Episode], rules: ArgumentRules, known: KnownIdentifiers | None
) -> ClaimChecks:
    requests = [words(e.request) for e in episodes]
    written = [
        {
            value_json(s)
            for values in values_at(e.call.arguments).values()
            for s in strings_at(values)
        }
        for e in episodes
    ]
    return ClaimChecks(rules, subjects_of(episodes), known or KnownIdentifiers(), requests, written)


@dataclass(frozen=True)
class _Calls:
    """One tool's calls, read once: what each writes where, and its request's words."""

    spec: ToolSpec
    episodes: list[Episode]
    written: list[dict[str, list[ArgValue]]]
    tokens: list[list[str]]

    @classmethod
    def of(cls, spec: ToolSpec, episodes: list[Episode]) -> _Calls:
        written = [values_at(e.call.arguments) for e in episodes]
        return cls(spec, episodes, written, [words(e.request) for e in episodes])

    def at(self, path: str) -> list[list[ArgValue]]:
        return [w.get(path, []) for w in self.written]


def _by_tool(episodes: Sequence[Episode], catalogue: Sequence[ToolSpec]) -> Iterator[_Calls]:
    specs = {s.name: s for s in catalogue}
    grouped: dict[str, list[Episode]] = defaultdict(list)
    for e in episodes:
        grouped[e.call.tool].append(e)
    for tool in sorted(grouped):
        if tool in specs:
            yield _Calls.of(specs[tool], grouped[tool])


def mine_argument_claims(
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    *,
    rules: ArgumentRules | None = None,
    known: KnownIdentifiers | None = None,
) -> list[ArgumentClaim]:
    """The argument claims ``episodes`` support (see the module docstring), by tool and path."""
    checks = claim_checks(episodes, rules or ArgumentRules(), known)
    claims: list[ArgumentClaim] = []
    for calls in _by_tool(episodes, catalogue):
        for path, arg in arg_paths(calls.spec).items():
            claims += _mine_path(calls, path, arg, checks)
    return claims


def _mine_path(calls: _Calls, path: str, arg: ArgSpec, checks: ClaimChecks) -> list[ArgumentClaim]:
    tool, rules, out = calls.spec.name, checks.rules, list[ArgumentClaim]()
    at = calls.at(path)
    if free_text(arg):
        texts = [strings_at(values) for values in at]
        shape = first_fit([t for ts in texts for t in ts], rules.min_shape_share)
        fits = [
            e.episode_id
            for e, ts in zip(calls.episodes, texts, strict=True)
            if shape is not None and ts and all(shape.fits(t) for t in ts)
        ]
        if shape is not None and checks.enough(fits):
            out.append(ArgumentShape(tool, path, shape.name))
        dated = year_shown(list(zip(calls.episodes, at, strict=True)), rules.min_usual_share)
        if dated is not None and checks.enough(dated[1]):
            out.append(DefaultYear(tool, path, dated[0]))
        suffixed = suffix_shown(list(zip(calls.episodes, at, strict=True)), rules.min_usual_share)
        if (
            suffixed is not None
            and checks.enough(suffixed[1])
            and checks.releasable("", value_json(suffixed[0]))
        ):
            out.append(UsualSuffix(tool, path, suffixed[0]))
    if not arg.required:
        parent = path.rpartition(".")[0]
        base = [i for i, w in enumerate(calls.written) if not parent or parent in w]
        absent = [calls.episodes[i].episode_id for i in base if path not in calls.written[i]]
        if base and len(absent) > rules.min_omitted_share * len(base) and checks.enough(absent):
            out.append(OmittedArgument(tool, path))
    norms = _normalisations(calls, path, checks) if free_text(arg) else []
    said: dict[str, list[str]] = defaultdict(list)
    for n in norms:
        said[n.value].append(n.phrase)
    return out + _usual_values(calls, path, said, checks) + norms


def _usual_values(
    calls: _Calls, path: str, said: dict[str, list[str]], checks: ClaimChecks
) -> list[UsualValue]:
    """Values written where the request gives neither them nor a normalisation phrase of them."""
    at = calls.at(path)
    seen = {value_json(v): v for values in at for v in values if v is not None}
    out = []
    for text, value in sorted(seen.items()):
        silent = [
            i
            for i, (e, tokens) in enumerate(zip(calls.episodes, calls.tokens, strict=True))
            if not says(e.request, value, tokens)
            and not any(phrase_in(tokens, p) for p in said[text])
        ]
        shown = [
            calls.episodes[i].episode_id
            for i in silent
            if any(value_json(v) == text for v in at[i])
        ]
        share_ok = bool(silent) and len(shown) > checks.rules.min_usual_share * len(silent)
        if share_ok and checks.enough(shown) and checks.releasable("", text):
            out.append(UsualValue(calls.spec.name, path, text))
    return out


def _phrases_for(calls: _Calls, path: str, banned: set[str]) -> dict[tuple[str, str], set[str]]:
    """(value, phrase) -> episodes whose request has the phrase but not the value verbatim."""
    support: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e, tokens, written in zip(calls.episodes, calls.tokens, calls.written, strict=True):
        grams = ngrams(tokens)
        every = [s for values in written.values() for s in strings_at(values)]
        for v in strings_at(written.get(path, [])):
            if mentions(e.request, v):
                continue
            others = set().union(*(content_words(o) for o in every if o != v)) - set(words(v))
            refused = (banned - set(words(v))) | others
            for gram in grams:
                if not refused & (set(gram.split()) - STOPWORDS):
                    support[(value_json(v), gram)].add(e.episode_id)
    return support


def _normalisations(calls: _Calls, path: str, checks: ClaimChecks) -> list[Normalisation]:
    """Request phrases that stand for a value calls write but the request does not."""
    support = _phrases_for(calls, path, doc_words(calls.spec))
    having: dict[str, set[str]] = defaultdict(set)  # value -> calls that write it at path
    for e, values in zip(calls.episodes, calls.at(path), strict=True):
        for s in strings_at(values):
            having[value_json(s)].add(e.episode_id)
    anywhere: dict[str, set[str]] = defaultdict(set)  # phrase -> calls whose request has it
    for e, tokens in zip(calls.episodes, calls.tokens, strict=True):
        for gram in ngrams(tokens):
            anywhere[gram].add(e.episode_id)
    n = len(calls.episodes)
    by_value: dict[str, list[str]] = defaultdict(list)
    for (text, gram), ids in support.items():
        inside = len(anywhere[gram] & having[text])
        counts = (inside, len(anywhere[gram]), len(having[text]) - inside, n - len(anywhere[gram]))
        if lifted(*counts, checks.rules) and checks.enough(ids):
            if checks.specific(gram, text) and checks.releasable(gram, text):
                by_value[text].append(gram)
    out = []
    for text, candidates in sorted(by_value.items()):
        value = str(loads(text))
        ranked = sorted(
            candidates,
            key=lambda g: (
                not related(g, value),
                -checks.subjects.count(support[(text, g)]),
                sum(not related(t, value) for t in g.split()),
                len(g.split()) * (-1 if related(g, value) else 1),
                g,
            ),
        )
        covered: set[str] = set()
        kept: list[str] = []
        for gram in ranked:
            fresh = support[(text, gram)] - covered
            if len(kept) < checks.rules.per_value and checks.enough(fresh):
                if not any(gram in k or k in gram for k in kept):
                    kept.append(gram)
                    covered |= support[(text, gram)]
        out += [Normalisation(calls.spec.name, path, g, text) for g in kept]
    return out


def lifted(inside: int, inside_n: int, outside: int, outside_n: int, rules: ArgumentRules) -> bool:
    """The value is in ``min_precision`` of the calls whose request has the phrase and in
    at most ``min_usual_share`` of the others (there must be others): the phrase, not a
    default, explains it."""
    if not inside_n or not outside_n:
        return False
    precise = inside >= rules.min_precision * inside_n
    return precise and outside <= rules.min_usual_share * outside_n
