"""ROUGE-L (Lin, 2004): how much of a reference text a candidate reproduces, in order.

FedPIT (arXiv 2403.06131) reports ROUGE-L; here it scores extraction: the
model's continuation of a record prefix against the record's true
continuation. Tokens are whitespace-separated words taken as written (no
stemming, no case folding), because an extraction that changes a digit or a
letter of an identifier has not reproduced it. ROUGE-L is the F1 of the
longest common subsequence (LCS) of the two token lists: precision is the LCS
over the candidate's length, recall the LCS over the reference's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (two-row DP, O(|a||b|))."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, start=1):
            current[j] = previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1])
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class RougeL:
    """ROUGE-L of one candidate against one reference."""

    precision: float
    recall: float
    f1: float


def rouge_l(candidate: str, reference: str) -> RougeL:
    """ROUGE-L precision, recall and F1 over whitespace tokens (all 0 when either is empty)."""
    cand, ref = candidate.split(), reference.split()
    if not cand or not ref:
        return RougeL(0.0, 0.0, 0.0)
    lcs = lcs_length(cand, ref)
    if lcs == 0:
        return RougeL(0.0, 0.0, 0.0)
    precision, recall = lcs / len(cand), lcs / len(ref)
    return RougeL(precision, recall, 2 * precision * recall / (precision + recall))


def same_budget(reference: str, candidate: str) -> str:
    """``reference`` cut to as many characters as the candidate holds.

    The model writes a bounded continuation (``max_new_tokens``) that usually
    stops inside a word; scoring it against the record's whole remainder would
    count as missed every word it had no budget to write. Cutting the
    reference at the same length (inside a word too) gives both sides the same
    budget, so an exact copy scores 1.
    """
    return reference.strip()[: len(candidate.strip())]
