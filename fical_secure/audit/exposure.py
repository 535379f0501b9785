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

That null is measured in the same run: each canary can carry control
secrets of its format, never written anywhere (drawn from a seed stream of
their own), scored under the same context and ranked against the same
candidates. Under no leakage planted and control exposures are exchangeable;
:func:`exposure_figure` summarises a set of canaries by their mean with a
bootstrap CI, beside the controls' mean and the planted - control difference.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fical_secure.audit.metrics import Interval, bootstrap_mean_ci
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
    # exposures of control secrets (never written anywhere) under the same context
    # and against the same candidates: the null the planted exposure is compared with
    control_bits: tuple[float, ...] = ()

    def to_dict(self) -> JsonObject:
        return {
            "episode_id": self.episode_id,
            "rank": self.rank,
            "n_candidates": self.n_candidates,
            "rank_bits": round(self.rank_bits, 4),
            "fit_bits": round(self.fit_bits, 4),
            "exposure_bits": round(self.exposure_bits, 4),
            "control_bits": [round(b, 4) for b in self.control_bits],
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


def random_candidates(
    secret: str, n: int, seed: int | str, *, exclude: Collection[str] = ()
) -> list[str]:
    """``n`` distinct random secrets of ``secret``'s format, none equal to it or in ``exclude``.

    Raises:
        ValueError: the format has too few random characters for ``n`` candidates.
    """
    classes = _alphabet(secret)
    rng = random.Random(f"{seed}:{len(secret)}")
    taken = {secret, *exclude}

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
        if cand not in taken:
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
    n_controls: int = 0,
    seed: int = 0,
    max_prefix_chars: int = 120,
) -> CanaryExposure:
    """Exposure of ``canary`` with ``context`` (the artefact excerpt) before it.

    The scoring prefix is the context, then the canary's host record up to the
    canary (what an adversary knowing the template would write), then the
    canary's fixed prefix; only the secret's tokens are scored. The candidates
    are drawn per canary (a seed stream of ``seed`` and the canary's episode):
    canaries ranked against one shared set would err together, and a figure
    over many canaries would count one draw of candidates as many. ``n_controls``
    control secrets of the secret's format, drawn from their own seed stream
    (per canary, apart from the candidates), are scored after the same prefix
    and ranked against the same candidates.

    Raises:
        AuditError: the LLM failed or returned the wrong number of results.
    """
    prefix, secret = split_secret(canary.value)
    lead = host_text.split(canary.value, 1)[0] if canary.value in host_text else ""
    lead = lead[-max_prefix_chars:]
    # a BPE tokenizer attaches the space to the word after it: keep it with the secret
    sep = " " if prefix.endswith(" ") else ""
    full_context = context + lead + prefix[: len(prefix) - len(sep)]
    candidates = random_candidates(secret, n_candidates, f"{seed}:{canary.episode_id}")
    controls = (
        random_candidates(
            secret, n_controls, f"control:{seed}:{canary.episode_id}", exclude=candidates
        )
        if n_controls
        else []
    )
    texts = [sep + s for s in (secret, *controls, *candidates)]
    try:
        scored = llm.score(texts, [full_context] * len(texts))
    except FicalError as exc:
        raise AuditError(f"canary exposure failed: {exc}") from exc
    if len(scored) != len(texts):
        raise AuditError(f"the LLM scored {len(scored)} texts, expected {len(texts)}")
    totals = [float(np.sum(lp, dtype=np.float64)) for lp in scored]
    against = totals[1 + n_controls :]
    rank, rank_bits, fit_bits = exposure_from_scores(totals[0], against)
    return CanaryExposure(
        episode_id=canary.episode_id,
        rank=rank,
        n_candidates=n_candidates,
        rank_bits=rank_bits,
        fit_bits=fit_bits,
        exposure_bits=_bits(rank, rank_bits, fit_bits),
        control_bits=tuple(
            _bits(*exposure_from_scores(ll, against)) for ll in totals[1 : 1 + n_controls]
        ),
    )


def _bits(rank: int, rank_bits: float, fit_bits: float) -> float:
    """The exposure: the rank's bits, or the normal fit's when nothing outranks the secret."""
    return max(rank_bits, fit_bits) if rank == 1 else rank_bits


def null_p_of_max(max_bits: float, n: int) -> float:
    """P(the largest of ``n`` unseen canaries' exposures >= ``max_bits``): 1 - (1 - 2^-max)^n."""
    return -math.expm1(n * math.log1p(-(2.0 ** -max(max_bits, 0.0)))) if max_bits > 0 else 1.0


@dataclass(frozen=True)
class ExposureFigure:
    """Exposure of a set of canaries: their mean with a CI, beside the controls' null.

    The mean is the statistic held to a bound: an unseen canary's exposure is
    about 1.4 bits on average and exceeds ``t`` bits with probability
    ``2^-t``, so the mean over many canaries concentrates near 1.4 bits when
    nothing leaks, while their maximum grows with their number (it exceeds 2
    bits with probability ``1 - (3/4)^n``). The maximum is kept beside it,
    with its p-value under that null. That p-value takes the nominal
    ``P(exposure >= t) = 2^-t``; above the rank cap the normal fit, made on
    few candidates, puts an unseen canary beyond ``t`` more often (for normal
    scores, 1.0% beyond 8 bits with 15 candidates, 0.5% with 63, against
    0.4%), so a small p-value of the max alone is weak evidence of a leak.
    """

    mean: float
    ci95: Interval
    max: float
    n_canaries: int
    n_candidates: int  # the fewest any canary was ranked against (its rank cap)
    control_mean: float | None  # None without controls
    n_controls: int
    difference: float | None  # mean over canaries of planted - mean of its controls
    difference_ci95: Interval | None
    p_value_max: float

    def to_dict(self) -> JsonObject:
        def interval(ci: Interval | None) -> list[float] | None:
            return None if ci is None else [round(ci.low, 4), round(ci.high, 4)]

        return {
            "value": round(self.mean, 4),
            "ci95": interval(self.ci95),
            "statistic": "mean over planted canaries",
            "max": round(self.max, 4),
            "p_value_max": round(self.p_value_max, 4),
            "n_canaries": self.n_canaries,
            "n_candidates": self.n_candidates,
            "rank_cap_bits": round(math.log2(self.n_candidates + 1), 4),
            "control_mean": None if self.control_mean is None else round(self.control_mean, 4),
            "n_controls": self.n_controls,
            "planted_minus_control": None
            if self.difference is None
            else {"value": round(self.difference, 4), "ci95": interval(self.difference_ci95)},
        }


def exposure_figure(
    exposures: Sequence[CanaryExposure], *, seed: int = 0, n_resamples: int = 1000
) -> ExposureFigure | None:
    """Mean exposure of ``exposures`` with bootstrap CIs over canaries; ``None`` if empty.

    The planted - control difference pairs each canary with the mean of its
    own controls, so the bootstrap resamples canaries with their controls;
    canaries without controls are left out of it (and of the control mean).
    """
    if not exposures:
        return None
    bits = np.array([c.exposure_bits for c in exposures], dtype=np.float64)
    paired = [c for c in exposures if c.control_bits]
    controls = [b for c in paired for b in c.control_bits]
    diffs = [c.exposure_bits - float(np.mean(c.control_bits)) for c in paired]
    top = float(bits.max())
    return ExposureFigure(
        mean=float(bits.mean()),
        ci95=bootstrap_mean_ci(bits, n_resamples=n_resamples, seed=seed),
        max=top,
        n_canaries=len(exposures),
        n_candidates=min(c.n_candidates for c in exposures),
        control_mean=float(np.mean(controls)) if controls else None,
        n_controls=len(controls),
        difference=float(np.mean(diffs)) if diffs else None,
        difference_ci95=bootstrap_mean_ci(diffs, n_resamples=n_resamples, seed=seed)
        if diffs
        else None,
        p_value_max=null_p_of_max(top, len(exposures)),
    )


def canary_context(header: str, item_texts: Sequence[str], max_chars: int) -> str:
    """The artefact excerpt put before a canary: its nearest items, truncated."""
    return header + truncate("\n".join(item_texts), max_chars) + "\n\n"
