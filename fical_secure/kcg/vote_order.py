"""The public order of a subject's candidate votes under DP contribution bounding.

In DP mode each subject votes for at most ``max_claims_per_subject`` of the
tens of claim keys its own requests show (:mod:`.dp_select`), and a key is
released only where enough subjects vote for it. Which keys a subject's votes
go to therefore decides the release's utility: with a seeded-random choice
among a patient's shortest phrases, the 199 votes of a 5 x 40 federation
spread over 159 keys (no key above 6), and a key needs 3 at epsilon 8.

The order may depend on the subject's own data and on public knowledge only,
never on another subject's data. (Which of its keys a subject's votes reach
does depend on the subjects before it: :func:`.dp_select.capped_votes` skips
keys already at the cap, a policy whose influence per subject is bounded; the
order it walks down is this one.) Here it is:

1. the fewest-token phrases first (short phrases recur in other requests);
2. then the phrase a public sentence encoder places closest to the claim's
   public *anchor*: for a cue (tool, phrase), the tool's catalogue document
   as the TLU's retriever indexes it (:func:`fical_secure.tlu.index.describe_tool`);
   for an alias (tool, arg, value, phrase), the enum value it stands for, as
   its argument's documentation states it ("laboratory test: BMP");
3. ties by a seeded hash of (subject, key).

Subjects that use the same tool thus converge on the words of their requests
that relate to it, and subjects that write the same house phrase for a value
vote for that alias, instead of scattering over names, dates and filler
words; nothing about the other subjects is consulted in ordering.

Each text is encoded on its own (never in a batch with another subject's
text, whose padding could move the last bits of a vector), so a subject's
order is a function of its own phrases and the public model alone, and
cosines are rounded to 4 decimals before they are compared, so that machines
whose float arithmetic differs in the last bits order the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fical_secure.aggregate.merge import TextEncoder
from fical_secure.data.schema import ToolSpec
from fical_secure.tlu.index import describe_tool

DECIMALS = 4
ALIAS = "alias"  # the kind of an alias key (dp_select's JSON keys), whose anchor is its value


@dataclass
class VoteOrder:
    """Orders one subject's candidate keys (``dp_select``'s JSON keys) for its bounded votes."""

    encoder: TextEncoder
    catalogue: Mapping[str, ToolSpec]
    _vectors: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, encoder: TextEncoder, catalogue: Sequence[ToolSpec]) -> VoteOrder:
        return cls(encoder, {s.name: s for s in catalogue})

    def _vector(self, text: str) -> npt.NDArray[np.float32]:
        vec = self._vectors.get(text)
        if vec is None:  # one text a call: no other subject's text shares its batch
            vec = np.asarray(self.encoder.encode([text])[0], dtype=np.float32)
            self._vectors[text] = vec
        return vec

    def _anchor(self, key: list[str]) -> str:
        spec = self.catalogue.get(key[1])
        if key[0] != ALIAS:
            return describe_tool(spec) if spec is not None else key[1]
        # the enum value the phrase stands for, as its argument's documentation states it
        # ("laboratory test: BMP"): a filler word of every request sits far from it
        args = [a for top in spec.args for a in top.walk()] if spec is not None else []
        arg = next((a for a in args if a.name == key[2]), None)
        return f"{arg.description if arg is not None and arg.description else key[2]}: {key[3]}"

    def relevance(self, key: str) -> float:
        """Cosine of the key's phrase to its public anchor, rounded to :data:`DECIMALS`."""
        parts = json.loads(key)
        cos = float(self._vector(parts[-1]) @ self._vector(self._anchor(parts)))
        return round(cos, DECIMALS)

    def ranked(self, subject: str, votes: set[str], seed: int) -> Iterator[str]:
        """The subject's keys in its order: fewest tokens, then relevance, then a seeded hash.

        Lazy: a longer phrase group is encoded only when the caller reads past the
        shorter ones (a subject's votes rarely need more than its unigrams)."""
        by_length: dict[int, list[str]] = {}
        for key in votes:
            by_length.setdefault(len(json.loads(key)[-1].split()), []).append(key)
        for length in sorted(by_length):
            yield from sorted(
                by_length[length],
                key=lambda k: (-self.relevance(k), _tie(seed, subject, k)),
            )


def _tie(seed: int, subject: str, key: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{subject}\x00{key}".encode()).digest()
