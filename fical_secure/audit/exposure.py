"""Signal (d): canary exposure in bits (Carlini et al., "The Secret Sharer", 2019).

A canary is a fixed prefix and a random secret (``canary 7f3a-91c2-55de``).
Its exposure is how much more likely the model finds the planted secret than
random secrets of the same format, with the released artefact in context:

    exposure = log2(|candidates|) - log2(rank of the canary among them)

where the candidate set holds the canary and ``n_candidates`` random secrets.
The rank estimate caps exposure at ``log2(n_candidates + 1)`` bits. When the
canary outranks every candidate the figure is extrapolated as in Carlini et
al. (section 4.3): fit a normal to the candidates' log-likelihoods and take
``-log2 P(X >= canary)``. A canary the model has never seen has exposure of
about 1.4 bits on average and exceeds ``t`` bits with probability ``2^-t``.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fical_secure.audit.signals import truncate
from fical_secure.data.schema import PIIValue
from fical_secure.errors import AuditError, FicalError
from fical_secure.jsontypes import JsonObject
from fical_secure.llm.base import LLM

MAX_FIT_BITS = 64.0
_HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class CanaryExposure:
    """Exposure of one canary under one context."""

    episode_id: str
    rank: int  # 1 = more likely than every candidate
    n_candidates: int  # random candidates, the canary excluded
    rank_bits: float
    fit_bits: float
    exposure_bits: float  # rank_bits, or the extrapolation when rank == 1

    def to_dict(self) -> JsonObject:
        return {
            "episode_id": self.episode_id,
            "rank": self.rank,
            "n_candidates": self.n_candidates,
            "rank_bits": round(self.rank_bits, 4),
            "fit_bits": round(self.fit_bits, 4),
            "exposure_bits": round(self.exposure_bits, 4),
        }


def split_secret(value: str) -> tuple[str, str]:
    """(fixed prefix, random secret): the secret is the last whitespace-separated token."""
    head, sep, tail = value.rpartition(" ")
    return (head + sep, tail) if tail else ("", value)


def _alphabet(secret: str) -> dict[str, str]:
    """Character class of each character kind in ``secret`` (hex secrets stay hex)."""
    alnum = {c for c in secret if c.isalnum()}
    if alnum and alnum <= _HEX:
        return {"hex": "0123456789abcdef"}
    return {
        "digit": string.digits,
        "lower": string.ascii_lowercase,
        "upper": string.ascii_uppercase,
    }


def random_candidates(secret: str, n: int, seed: int) -> list[str]:
    """``n`` distinct random secrets of ``secret``'s format, none equal to it.

    Raises:
        ValueError: the format has too few random characters for ``n`` candidates.
    """
    classes = _alphabet(secret)
    rng = random.Random(f"{seed}:{len(secret)}")

    def draw() -> str:
        out = []
        for c in secret:
            if "hex" in classes and c in _HEX:
                out.append(rng.choice(classes["hex"]))
            elif c.isdigit() and "digit" in classes:
                out.append(rng.choice(classes["digit"]))
            elif c.isascii() and c.islower() and "lower" in classes:
                out.append(rng.choice(classes["lower"]))
            elif c.isascii() and c.isupper() and "upper" in classes:
                out.append(rng.choice(classes["upper"]))
            else:
                out.append(c)
        return "".join(out)

    found: set[str] = set()
    for _ in range(50 * n + 100):
        cand = draw()
        if cand != secret:
            found.add(cand)
        if len(found) == n:
            return sorted(found)
    raise ValueError(f"cannot draw {n} distinct candidates of this format")


def exposure_from_scores(
    canary_ll: float, candidate_ll: Sequence[float] | npt.NDArray[np.float64]
) -> tuple[int, float, float]:
    """(rank, rank bits, fitted bits) of a canary log-likelihood among candidates'."""
    cands = np.asarray(candidate_ll, dtype=np.float64)
    rank = 1 + int(np.sum(cands > canary_ll)) + int(np.sum(cands == canary_ll)) // 2
    rank_bits = math.log2(cands.size + 1) - math.log2(rank)
    sigma = float(cands.std(ddof=1)) if cands.size > 1 else 0.0
    z = (canary_ll - float(cands.mean())) / max(sigma, 1e-6)
    tail = 0.5 * math.erfc(z / math.sqrt(2.0))
    fit_bits = MAX_FIT_BITS if tail <= 2.0**-MAX_FIT_BITS else min(MAX_FIT_BITS, -math.log2(tail))
    return rank, rank_bits, max(fit_bits, 0.0)


def canary_exposure(
    canary: PIIValue,
    context: str,
    llm: LLM,
    *,
    host_text: str = "",
    n_candidates: int = 63,
    seed: int = 0,
    max_prefix_chars: int = 120,
) -> CanaryExposure:
    """Exposure of ``canary`` with ``context`` (the artefact excerpt) before it.

    The scoring prefix is the context, then the canary's host record up to the
    canary (what an adversary knowing the template would write), then the
    canary's fixed prefix; only the secret's tokens are scored.

    Raises:
        AuditError: the LLM failed or returned the wrong number of results.
    """
    prefix, secret = split_secret(canary.value)
    lead = host_text.split(canary.value, 1)[0] if canary.value in host_text else ""
    lead = lead[-max_prefix_chars:]
    # a BPE tokenizer attaches the space to the word after it: keep it with the secret
    sep = " " if prefix.endswith(" ") else ""
    full_context = context + lead + prefix[: len(prefix) - len(sep)]
    candidates = random_candidates(secret, n_candidates, seed)
    texts = [sep + s for s in (secret, *candidates)]
    try:
        scored = llm.score(texts, [full_context] * len(texts))
    except FicalError as exc:
        raise AuditError(f"canary exposure failed: {exc}") from exc
    if len(scored) != len(texts):
        raise AuditError(f"the LLM scored {len(scored)} texts, expected {len(texts)}")
    totals = [float(np.sum(lp, dtype=np.float64)) for lp in scored]
    rank, rank_bits, fit_bits = exposure_from_scores(totals[0], totals[1:])
    return CanaryExposure(
        episode_id=canary.episode_id,
        rank=rank,
        n_candidates=n_candidates,
        rank_bits=rank_bits,
        fit_bits=fit_bits,
        exposure_bits=max(rank_bits, fit_bits) if rank == 1 else rank_bits,
    )


def canary_context(header: str, item_texts: Sequence[str], max_chars: int) -> str:
    """The artefact excerpt put before a canary: its nearest items, truncated."""
    return header + truncate("\n".join(item_texts), max_chars) + "\n\n"
