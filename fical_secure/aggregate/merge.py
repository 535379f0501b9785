"""FICAL aggregation: union of verified client compendiums into one global one.

The server concatenates the clients' entries (FICAL's aggregation is a union),
merges exact duplicates and, given an embedder, near-duplicate paraphrases of
the same (tool, kind), and keeps provenance only as counts: an entry's
``support`` is how many distinct compendiums contributed it, never which. A
support figure inside a client's compendium is ignored: it is the sender's
claim, and one client claiming support 1000 counts once, like everyone else
(only an earlier global compendium, built by the server, carries counts). An optional
k-support threshold drops knowledge that fewer than ``min_support`` clients
share, so a single hospital's idiosyncratic entry does not reach the federation.

Entries that state a structured claim (:func:`fical_secure.kcg.claims.parse_any`:
value aliases, tool-selection cues, argument claims) merge only when their
claims are equal, never by embedding similarity: two cue sentences for one tool
with different phrases read alike to an embedder, and merging them would drop
all but one sentence's phrases. A cue entry is split into its phrases: each
(tool, phrase) is one unit of knowledge whose support counts the inputs that
give it (so the k-support threshold applies per phrase), and the kept phrases
of a tool are written back as cue entries, one per support level (split where
a sentence would pass the entry length limit). Paraphrases of one alias claim
merge, the most supported text representing them.

Everything here is a pure function of the *multiset* of inputs: the output does
not depend on the order of compendiums or of their entries.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from fical_secure.aggregate.intake import GLOBAL_OWNER
from fical_secure.errors import AggregationError, RetrievalError
from fical_secure.jsontypes import JsonObject
from fical_secure.kcg.claims import Claim, ToolCue, parse_any, render_claim
from fical_secure.kcg.schema import MAX_ENTRY_CHARS, Compendium, Entry, EntryKind, ToolSignature

# faiss range search keeps scores strictly above the radius; this makes ">=" hold
_RADIUS_EPS = 1e-6


class TextEncoder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows (e.g. tlu.embedding.Embedder)."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


@dataclass
class _Group:
    """Entries of one (tool, kind) that are being merged; sources are input positions."""

    tool: str
    kind: EntryKind
    claim: Claim | None = None  # the structured claim every text states (merged by equality)
    cue: str | None = None  # the one cue phrase of a split cue entry
    texts: dict[str, int] = field(default_factory=dict)  # text -> support, pre-merge
    sources: dict[int, int] = field(default_factory=dict)  # compendium index -> weight

    def add(self, text: str, weight: int, source: int) -> None:
        self.texts[text] = self.texts.get(text, 0) + weight
        self.sources[source] = max(self.sources.get(source, 0), weight)

    def absorb(self, other: _Group) -> None:
        for text, support in other.texts.items():
            self.texts[text] = self.texts.get(text, 0) + support
        for source, weight in other.sources.items():
            self.sources[source] = max(self.sources.get(source, 0), weight)

    @property
    def support(self) -> int:
        # an input counts once per merged entry, however many paraphrases it sent
        return sum(self.sources.values())

    def representative(self) -> str:
        """Most-supported text; ties broken by the text itself (deterministic)."""
        return min(self.texts.items(), key=lambda item: (-item[1], item[0]))[0]


def _exact_key(entry: Entry) -> tuple[str, str, str]:
    # whitespace and case differences are not new knowledge
    return (entry.tool, entry.kind, re.sub(r"\s+", " ", entry.text).strip().casefold())


def _units(entry: Entry) -> list[tuple[tuple[object, ...], _Group, str]]:
    """The entry's units of knowledge: (merge key, empty group, text) per unit.

    A cue entry gives one unit per phrase, another claim one unit keyed by the
    claim, free text one unit keyed by its normalised text.
    """
    claim = parse_any(entry.tool, entry.text)
    if isinstance(claim, ToolCue):
        return [
            (
                ("cue", entry.tool, entry.kind, phrase),
                _Group(entry.tool, entry.kind, cue=phrase),
                render_claim(ToolCue(entry.tool, (phrase,))),
            )
            for phrase in dict.fromkeys(claim.phrases)
        ]
    if claim is not None:
        return [(("claim", entry.kind, claim), _Group(entry.tool, entry.kind, claim), entry.text)]
    return [(("text", *_exact_key(entry)), _Group(entry.tool, entry.kind), entry.text)]


def _check_inputs(compendiums: Sequence[Compendium], threshold: float, min_support: int) -> None:
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if isinstance(min_support, bool) or min_support < 1:
        raise ValueError(f"min_support must be a positive integer, got {min_support}")
    owners = Counter(c.owner for c in compendiums if c.owner != GLOBAL_OWNER)
    duplicated = sorted(o for o, copies in owners.items() if copies > 1)
    if duplicated:
        # counting one client twice would inflate support past the k-threshold
        raise AggregationError(
            f"{len(duplicated)} client(s) submitted more than one compendium; "
            "keep one per client and round before aggregating"
        )


def _weight(compendium: Compendium, entry: Entry) -> int:
    """How many contributors an entry stands for: 1 for a client, the count for a global input.

    A client's own ``support`` figure is its claim and is never trusted; only
    an earlier global compendium (owner ``global``, which the server's intake
    never lets a client take) carries counts the server itself computed.
    """
    return entry.support if compendium.owner == GLOBAL_OWNER else 1


def _exact_groups(compendiums: Sequence[Compendium]) -> list[_Group]:
    groups: dict[tuple[object, ...], _Group] = {}
    for source, compendium in enumerate(compendiums):
        for entry in compendium.entries:
            for key, empty, text in _units(entry):
                group = groups.setdefault(key, empty)
                group.add(text, _weight(compendium, entry), source)
    # canonical order: independent of input order
    return sorted(groups.values(), key=lambda g: (g.tool, g.kind, -g.support, g.representative()))


def _neighbours(vectors: npt.NDArray[np.float32], threshold: float) -> list[set[int]]:
    """For each row, the rows whose cosine with it is >= threshold (faiss exact IP search)."""
    try:
        import faiss
    except ImportError as exc:
        raise RetrievalError("faiss-cpu is not installed (extra 'retrieval')") from exc
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    lims, _scores, ids = index.range_search(vectors, threshold - _RADIUS_EPS)
    return [{int(j) for j in ids[lims[i] : lims[i + 1]]} for i in range(len(vectors))]


def _merge_near(groups: list[_Group], encoder: TextEncoder, threshold: float) -> list[_Group]:
    """Greedy leader clustering within each (tool, kind).

    Groups are visited in canonical order (support desc, text); each unclaimed
    group becomes a leader and absorbs the unclaimed groups within ``threshold``
    of it. Leaders (not chains) bound every merged text's distance to the kept
    representative, unlike single-linkage.
    """
    if not groups:
        return []
    texts = [g.representative() for g in groups]
    vectors = encoder.encode(texts)
    if vectors.shape[0] != len(texts):
        raise RetrievalError("embedder returned a wrong number of vectors")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    by_bucket: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by_bucket[(g.tool, g.kind)].append(i)
    merged: list[_Group] = []
    for members in by_bucket.values():
        near = _neighbours(vectors[members], threshold)
        claimed: set[int] = set()
        for local in range(len(members)):
            if local in claimed:
                continue
            leader = groups[members[local]]
            claimed.add(local)
            for other in sorted(near[local] - claimed):
                leader.absorb(groups[members[other]])
                claimed.add(other)
            merged.append(leader)
    return merged


def _cue_entries(groups: Sequence[_Group]) -> list[Entry]:
    """The kept cue phrases written back: per tool, kind and support, as few entries as fit."""
    by_level: dict[tuple[str, EntryKind, int], list[str]] = defaultdict(list)
    for g in groups:
        assert g.cue is not None
        by_level[(g.tool, g.kind, g.support)].append(g.cue)
    entries = []
    for (tool, kind, support), phrases in sorted(by_level.items()):
        chunk: list[str] = []
        for phrase in sorted(phrases):
            if chunk and len(render_claim(ToolCue(tool, (*chunk, phrase)))) > MAX_ENTRY_CHARS:
                entries.append(
                    Entry(tool, kind, render_claim(ToolCue(tool, tuple(chunk))), support)
                )
                chunk = []
            chunk.append(phrase)
        if chunk:
            entries.append(Entry(tool, kind, render_claim(ToolCue(tool, tuple(chunk))), support))
    return entries


def merge_signatures(
    compendiums: Sequence[Compendium], min_support: int = 1
) -> tuple[ToolSignature, ...]:
    """Union of argument names per tool, across inputs, order-independent.

    Arguments are ordered by their earliest position in any input signature,
    then by name; when inputs disagree on an argument's type, the most common
    type wins (ties by name). A tool's signature is kept only if at least
    ``min_support`` inputs carry one.
    """
    positions: dict[str, dict[str, int]] = defaultdict(dict)
    types: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    holders: dict[str, set[int]] = defaultdict(set)
    for source, compendium in enumerate(compendiums):
        for sig in compendium.signatures:
            holders[sig.tool].add(source)
            for pos, (name, typ) in enumerate(sig.args):
                prev = positions[sig.tool].get(name, pos)
                positions[sig.tool][name] = min(prev, pos)
                votes = types[sig.tool][name]
                votes[typ] = votes.get(typ, 0) + 1
    result = []
    for tool in sorted(holders):
        if len(holders[tool]) < min_support:
            continue
        names = sorted(positions[tool], key=lambda n: (positions[tool][n], n))
        args = tuple(
            (n, min(types[tool][n].items(), key=lambda kv: (-kv[1], kv[0]))[0]) for n in names
        )
        result.append(ToolSignature(tool=tool, args=args))
    return tuple(result)


def aggregate(
    compendiums: Sequence[Compendium],
    *,
    embedder: TextEncoder | None = None,
    threshold: float = 0.9,
    min_support: int = 1,
) -> Compendium:
    """Aggregate verified compendiums into the global compendium (owner ``"global"``).

    Args:
        compendiums: verified client compendiums (or earlier global ones).
        embedder: enables near-duplicate merging; ``None`` merges exact
            duplicates (modulo case and whitespace) only.
        threshold: cosine similarity at or above which two entries of the same
            tool and kind are the same knowledge.
        min_support: drop entries (and signatures) contributed by fewer inputs.

    Raises:
        AggregationError: one client appears twice among the inputs.
        RetrievalError: the embedder or faiss failed.
        ValueError: threshold or min_support out of range.
    """
    _check_inputs(compendiums, threshold, min_support)
    groups = _exact_groups(compendiums)
    if embedder is not None:
        structured = [g for g in groups if g.claim is not None or g.cue is not None]
        free = [g for g in groups if g.claim is None and g.cue is None]
        groups = structured + _merge_near(free, embedder, threshold)
    kept = [g for g in groups if g.support >= min_support]
    entries = tuple(
        sorted(
            [Entry(g.tool, g.kind, g.representative(), g.support) for g in kept if g.cue is None]
            + _cue_entries([g for g in kept if g.cue is not None]),
            key=lambda e: (e.tool, e.kind, e.text),
        )
    )
    meta: JsonObject = {
        "n_inputs": len(compendiums),
        "n_entries_in": sum(len(c.entries) for c in compendiums),
        "n_entries_out": len(entries),
        "n_dropped_low_support": len(groups) - len(kept),
        "threshold": threshold if embedder is not None else None,
        "min_support": min_support,
    }
    return Compendium(
        owner=GLOBAL_OWNER,
        entries=entries,
        signatures=merge_signatures(compendiums, min_support),
        meta=meta,
    )
