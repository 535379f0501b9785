"""Claim selection by DP partition selection: the one DP path for every claim kind.

The k-support miners (:mod:`.mining`, :mod:`.cues`) filter claims with
cross-subject rules (a token seen with another value, a precision over every
request, a greedy cover): one added patient can then remove a claim that
hundreds support, which no noise calibrated to one subject covers. In DP mode
each subject's *votes* depend on its own episodes only:

- an alias vote (tool, arg, value, phrase) for each phrase of a request that
  used the enum value without its standard words (doc words, function words,
  numbers and the hospital's known identifiers excluded, as in :mod:`.mining`),
  unless one of the subject's own requests with the phrase lacks the value;
- a cue vote (tool, phrase) for each n-gram of its requests (as in :mod:`.cues`),
  unless the subject's own requests with the phrase call another tool.

A phrase that public knowledge alone shows to be no evidence for its tool is
no candidate (:class:`PublicFilter`): one whose every word announces an
identifier to the scrubber's recognizers ("address", "ssn", "born", "called")
and is none of the tool's documentation words, or one that contains an enum
value the tool takes and another tool of the catalogue takes too ("aspirin"
for the dosage calculator, when four tools take it). The k-only miner drops
such phrases by their precision over every request; a per-subject vote cannot
see that, and with one vote a subject they filled the release (stop 42's
measurements in the DP threat model).

Contribution bounding keeps at most ``max_claims_per_subject`` votes per
subject, down the public order of :mod:`.vote_order` (the fewest-token phrases
first, then the phrase a public sentence encoder places closest to the tool's
catalogue document or the enum value, then a seeded hash of (subject, claim)),
subjects taken in the order of their ids, and a key whose count has reached
the calibration's ``cap`` (enough to clear the noisy threshold) passes the
vote to the subject's next cue (:func:`capped_votes`, DP set union's
l1-descent policy: one subject still moves the counts by at most the bound).
Counts of distinct subjects per claim go through OpenDP's noisy threshold
(:mod:`fical_secure.release.dp`). What follows uses only the released keys and
noisy counts (post-processing, no privacy cost):
the precision of a phrase across values or tools, containment between
phrases, and the per-tool cue cap.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

from fical_secure.aggregate.merge import TextEncoder
from fical_secure.config.scrub import load_profile
from fical_secure.data.schema import Episode, ToolSpec
from fical_secure.kcg.claims import Claim, ToolCue, ValueAlias
from fical_secure.kcg.cues import CueRules, ngrams, words
from fical_secure.kcg.mining import (
    MAX_PHRASE_CHARS,
    MAX_TOKENS,
    STOPWORDS,
    _doc_words,
    _enum_uses,
    _explicit,
    _numeric,
    _tokens,
    supporting_episodes,
)
from fical_secure.kcg.schema import ToolSignature
from fical_secure.kcg.subjects import subjects_of
from fical_secure.kcg.vote_order import ALIAS, VoteOrder
from fical_secure.release.dp import Calibration, select
from fical_secure.scrub.engine import context_words
from fical_secure.scrub.known import KnownIdentifiers

CUE = "cue"  # the kind of a cue key; ALIAS, an alias key's, comes with the vote order


@dataclass(frozen=True)
class DPSelection:
    """Claims selected under DP, with their noisy subject counts, and the round's mechanism."""

    claims: tuple[tuple[Claim, int], ...]
    calibration: Calibration
    released_keys: int  # keys the noisy threshold kept, before post-processing


def _alias_votes(own: Sequence[Episode], catalogue: Sequence[ToolSpec], known: _Either) -> set[str]:
    specs = {s.name: s for s in catalogue}
    votes: set[str] = set()
    for episode in own:
        spec = specs.get(episode.call.tool)
        if spec is None:
            continue
        banned = STOPWORDS | _doc_words(spec)
        tokens = _tokens(episode.request)
        for arg, value in _enum_uses(episode, catalogue):
            if _explicit(episode.request, arg, value):
                continue
            for i in range(len(tokens)):
                for j in range(i + 1, min(i + MAX_TOKENS, len(tokens)) + 1):
                    run = tokens[i:j]
                    low = " ".join(t for t, _ in run)
                    written = " ".join(w for _, w in run)
                    if run[0][0] in banned or run[-1][0] in banned or _numeric(low):
                        continue
                    if len(written) > MAX_PHRASE_CHARS or known.named_in(written):
                        continue
                    claim = ValueAlias(spec.name, arg, low, value)
                    if supporting_episodes(claim, own, catalogue) is not None:
                        votes.add(json.dumps([ALIAS, spec.name, arg, value, low]))
    return votes


def _cue_votes(own: Sequence[Episode], known: _Either) -> set[str]:
    tools: dict[str, set[str]] = defaultdict(set)
    for episode in own:
        for gram in ngrams(words(episode.request)):
            if not any(known.named_in(word) for word in gram.split()):
                tools[gram].add(episode.call.tool)
    # a phrase the subject itself uses for two tools points at neither
    return {json.dumps([CUE, next(iter(t)), g]) for g, t in tools.items() if len(t) == 1}


@dataclass(frozen=True)
class _Either:
    """Names an identifier when either list does."""

    fixed: KnownIdentifiers
    own: KnownIdentifiers

    def named_in(self, text: str) -> bool:
        return self.fixed.named_in(text) or self.own.named_in(text)


@functools.cache
def _identifier_words() -> frozenset[str]:
    """The words the packaged scrubber profile's recognizers read as announcing an identifier."""
    return context_words(load_profile())


@dataclass(frozen=True)
class PublicFilter:
    """Candidate phrases that are no evidence for their tool, judged on public knowledge alone
    (the catalogue and the scrubber's recognizers), so dropping them costs no privacy."""

    doc_words: Mapping[str, frozenset[str]]  # tool -> its documentation's words
    takers: Mapping[tuple[str, ...], frozenset[str]]  # an enum value's words -> tools taking it
    identifier_words: frozenset[str]

    @classmethod
    def of(cls, catalogue: Sequence[ToolSpec]) -> PublicFilter:
        takers: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for spec in catalogue:
            for arg in spec.args:
                for choice in arg.choices if arg.type == "enum" else ():
                    value = tuple(t for t, _ in _tokens(choice))
                    if value:
                        takers[value].add(spec.name)
        return cls(
            doc_words={s.name: frozenset(_doc_words(s)) for s in catalogue},
            takers={v: frozenset(t) for v, t in takers.items()},
            identifier_words=_identifier_words(),
        )

    def uninformative(self, tool: str, phrase: str) -> bool:
        """Every word of ``phrase`` announces an identifier and none documents ``tool``, or
        ``phrase`` contains an enum value that ``tool`` takes and another tool takes too (a
        value that is no argument of ``tool``, "music" for a music search when an events
        tool takes it as a category, can still be ``tool``'s cue)."""
        tokens = phrase.split()
        own = self.doc_words.get(tool, frozenset())
        if all(w in self.identifier_words and w not in own for w in tokens):
            return True
        return any(
            tool in takers and len(takers) > 1
            for i in range(len(tokens))
            for j in range(i + 1, len(tokens) + 1)
            for takers in [self.takers.get(tuple(tokens[i:j]), frozenset())]
        )

    def keeps(self, key: str) -> bool:
        """Whether a vote key (an alias's or a cue's) stays a candidate."""
        parsed = json.loads(key)
        return not self.uninformative(parsed[1], parsed[-1])


def _own_pii(episodes: Sequence[Episode]) -> list[tuple[str, str]]:
    return [(p.kind, p.value) for e in episodes for p in e.pii]


def catalogue_signatures(
    claims: Sequence[tuple[Claim, int]], catalogue: Sequence[ToolSpec]
) -> tuple[ToolSignature, ...]:
    """Signatures of the tools the selected claims name, from the public catalogue.

    Signatures induced from calls would show which tools and arguments one
    patient's calls used; these depend on the DP output and the catalogue only.
    """
    tools = {c.tool for c, _ in claims}
    return tuple(
        ToolSignature(s.name, tuple((a.name, a.type) for a in s.args))
        for s in sorted(catalogue, key=lambda s: s.name)
        if s.name in tools
    )


def capped_votes(ballots: Iterable[Iterable[str]], limit: int, cap: int | None) -> dict[str, int]:
    """Counts of the votes of ``ballots`` (one ranked key list per subject, in a fixed
    order), each subject giving one vote to each of its first ``limit`` keys below ``cap``.

    This is the l1-descent policy of DP set union (Gopi et al., ICML 2020): a vote
    that would lift a key past ``cap`` (enough to clear the noisy threshold) goes
    to the subject's next key instead of being wasted. One subject's influence
    stays bounded although later subjects see its votes: each vote's step from
    one count vector to the next is l1-contractive (if ``c`` and ``c'`` differ
    and a subject votes ``i`` on ``c`` and ``j`` on ``c'`` with ``i`` ranked
    first, ``i`` is full in ``c'`` only, so ``c'[i] > c[i]`` and the vote on
    ``i`` closes that gap by one while the one on ``j`` opens at most one), so
    adding a subject anywhere in the order changes the final counts by at most
    ``limit`` in l1, hence in l0 and linf (property-tested in
    ``tests/test_release_dp.py``). ``cap`` None: no key fills.
    """
    counts: dict[str, int] = defaultdict(int)
    for ranking in ballots:
        given = 0
        for key in ranking:
            if given == limit:
                break
            if cap is not None and counts[key] >= cap:
                continue
            counts[key] += 1
            given += 1
    return {k: n for k, n in counts.items() if n > 0}


def ballot(ranked: Iterator[str], limit: int) -> Iterator[str]:
    """What a subject's votes walk down: its first ``limit`` keys in its order, then its
    other cues only.

    A vote passed on from a full key never lands on an alias further down: an alias
    count is judged against the same phrase's cue count (:func:`_aliases`), and both
    stop at the cap, so overflow votes could lift a template word's alias ("pull"
    for BMP, in every lab request) as high as its cue, where the counts no longer
    tell it from a real one.
    """
    head = [key for _, key in zip(range(limit), ranked, strict=False)]
    return chain(head, (key for key in ranked if _is_cue(key)))


def _is_cue(key: str) -> bool:
    return bool(json.loads(key)[0] == CUE)


def bounded_counts(
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    *,
    max_claims_per_subject: int,
    seed: int,
    order: VoteOrder,
    cap: int | None,
    known: KnownIdentifiers | None = None,
) -> dict[str, int]:
    """Distinct subjects per claim key: subjects in the order of their ids, each voting for
    its first ``max_claims_per_subject`` keys in ``order`` below ``cap`` (the candidates
    :class:`PublicFilter` keeps), a vote that finds a key full passing on to the
    subject's next cue (:func:`ballot`, :func:`capped_votes`)."""
    known = known or KnownIdentifiers()
    public = PublicFilter.of(catalogue)
    subjects = subjects_of(episodes)
    own: dict[str, list[Episode]] = defaultdict(list)
    for episode in episodes:
        own[subjects.of.get(episode.episode_id, f"episode:{episode.episode_id}")].append(episode)

    def ballots() -> Iterator[Iterator[str]]:
        for subject, mine in sorted(own.items()):
            # the fixed list (the roster) and the subject's own identifiers: another
            # patient's identifiers must not change which claims this subject can vote for
            mine_known = _Either(known, KnownIdentifiers().extend(_own_pii(mine)))
            votes = _alias_votes(mine, catalogue, mine_known) | _cue_votes(mine, mine_known)
            votes = {key for key in votes if public.keeps(key)}
            yield ballot(order.ranked(subject, votes, seed), max_claims_per_subject)

    return capped_votes(ballots(), max_claims_per_subject, cap)


def select_claims(
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    calibration: Calibration,
    *,
    seed: int,
    encoder: TextEncoder,
    rules: CueRules | None = None,
    known: KnownIdentifiers | None = None,
) -> DPSelection:
    """The claims DP partition selection keeps (see the module docstring); ``encoder``
    is the public sentence encoder of the vote order."""
    rules = rules or CueRules()
    counts = bounded_counts(
        episodes,
        catalogue,
        max_claims_per_subject=calibration.max_claims_per_subject,
        seed=seed,
        order=VoteOrder.of(encoder, catalogue),
        cap=calibration.cap,
        known=known,
    )
    return select_from_counts(counts, calibration, rules)


def select_from_counts(
    counts: Mapping[str, int], calibration: Calibration, rules: CueRules | None = None
) -> DPSelection:
    """OpenDP's noisy threshold over bounded ``counts`` (from :func:`bounded_counts`, or their
    sum over hospitals whose subjects are distinct people), then the post-processing."""
    rules = rules or CueRules()
    released = select(counts, calibration)
    keys = [(json.loads(k), n) for k, n in released.items()]
    cue_keys = [(k, n) for k, n in keys if k[0] == CUE]
    aliases = _aliases([(k, n) for k, n in keys if k[0] == ALIAS], cue_keys, rules)
    cues = _cues(cue_keys, rules)
    return DPSelection(tuple(aliases + cues), calibration, len(released))


def _aliases(
    keys: list[tuple[list[str], int]], cues: list[tuple[list[str], int]], rules: CueRules
) -> list[tuple[Claim, int]]:
    """Post-processing: a phrase kept for a value it mostly means; no phrase inside another.

    A phrase's released cue count for the tool counts every request of the
    tool that uses it (with the value written out or not), so a template word
    ("pull") that the alias votes alone cannot tell from an alias is dropped.
    """
    per_phrase: dict[str, int] = defaultdict(int)
    for (_, _tool, _arg, _value, phrase), n in keys:
        per_phrase[phrase] += n
    for (_, _tool, phrase), n in cues:
        per_phrase[phrase] = max(per_phrase[phrase], n)
    ranked = sorted(keys, key=lambda kn: (-kn[1], -len(kn[0][4]), kn[0]))
    kept: dict[str, list[str]] = defaultdict(list)
    out: list[tuple[Claim, int]] = []
    for (_, tool, arg, value, phrase), n in ranked:
        if n / per_phrase[phrase] < rules.min_precision:
            continue
        if any(phrase in k or k in phrase for k in kept[value]):
            continue
        kept[value].append(phrase)
        out.append((ValueAlias(tool, arg, phrase, value), n))
    return sorted(out, key=lambda cn: (cn[0].tool, str(cn[0])))


def _cues(keys: list[tuple[list[str], int]], rules: CueRules) -> list[tuple[Claim, int]]:
    """Post-processing: precision over the released tools of a phrase; per-tool cap; no nesting."""
    per_phrase: dict[str, int] = defaultdict(int)
    for (_, _tool, phrase), n in keys:
        per_phrase[phrase] += n
    by_tool: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for (_, tool, phrase), n in keys:
        if n / per_phrase[phrase] >= rules.min_precision:
            by_tool[tool].append((n, phrase))
    out: list[tuple[Claim, int]] = []
    for tool in sorted(by_tool):
        kept: list[str] = []
        total = 0
        for n, phrase in sorted(by_tool[tool], key=lambda np: (-np[0], len(np[1].split()), np[1])):
            if len(kept) < rules.per_tool and not any(phrase in k or k in phrase for k in kept):
                kept.append(phrase)
                total += n
        out.append((ToolCue(tool, tuple(kept)), total))
    return out
