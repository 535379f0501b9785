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

Contribution bounding keeps at most ``max_claims_per_subject`` votes per
subject, in the public order of :mod:`.vote_order` (the fewest-token phrases
first, then the phrase a public sentence encoder places closest to the tool's
catalogue document or the enum value, then a seeded hash of (subject, claim)):
a function of the subject's own votes and public knowledge, so deterministic.
Counts of distinct subjects per claim go through OpenDP's noisy threshold
(:mod:`fical_secure.release.dp`). What follows uses only the released keys and
noisy counts (post-processing, no privacy cost):
the precision of a phrase across values or tools, containment between
phrases, and the per-tool cue cap.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fical_secure.aggregate.merge import TextEncoder
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


def bounded_counts(
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    *,
    max_claims_per_subject: int,
    seed: int,
    order: VoteOrder,
    known: KnownIdentifiers | None = None,
) -> dict[str, int]:
    """Distinct subjects per claim key, each subject voting for at most the bound
    (its votes chosen by ``order``, from its own candidates alone)."""
    known = known or KnownIdentifiers()
    subjects = subjects_of(episodes)
    own: dict[str, list[Episode]] = defaultdict(list)
    for episode in episodes:
        own[subjects.of.get(episode.episode_id, f"episode:{episode.episode_id}")].append(episode)
    counts: dict[str, int] = defaultdict(int)
    for subject, mine in sorted(own.items()):
        # the fixed list (the roster) and the subject's own identifiers: another
        # patient's identifiers must not change which claims this subject votes for
        mine_known = _Either(known, KnownIdentifiers().extend(_own_pii(mine)))
        votes = _alias_votes(mine, catalogue, mine_known) | _cue_votes(mine, mine_known)
        for key in order.choose(subject, votes, max_claims_per_subject, seed):
            counts[key] += 1
    return dict(counts)


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
