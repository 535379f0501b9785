"""Prompts of the tool-using agent, and the model's calibrated tool scores.

The default model is tiny: only the first token(s) of a tool name carry signal,
and it favours whatever is listed first. So the model never free-generates a
call; it scores the prefix ``name(`` of each candidate, and each score is
calibrated by subtracting the same candidate's score under a content-free
request ("N/A") with the *same* listing (contextual calibration, Zhao et al.
2021), which removes most of the position and prior bias.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fical_secure.llm.base import LLM

SYSTEM = "You are a clinical assistant. Answer every request with exactly one tool call."
CONTENT_FREE = "N/A"


@dataclass(frozen=True)
class ScoringJob:
    """Score ``candidates`` for one request: prompt and its content-free twin."""

    prompt: str  # user message with the real request
    calibration: str  # the same user message with a content-free request
    candidates: tuple[str, ...]


def rag_message(request: str, candidates: Sequence[str], notes: Sequence[str]) -> str:
    """User message listing the candidates' retrieved notes, then the candidates."""
    lines = ["Tool notes:"] + [f"- {note}" for note in notes]
    lines += [f"Tools: {', '.join(candidates)}", f"Request: {request}", "Reply with one tool call."]
    return "\n".join(lines)


def plain_message(request: str) -> str:
    """User message without retrieved context.

    The tools are not listed: the candidates are constrained by scoring only
    catalogue names, and a 14-name list would double the tokens of every row.
    """
    return f"Request: {request}\nReply with one tool call."


def rag_job(request: str, candidates: Sequence[str], notes: Sequence[str]) -> ScoringJob:
    return ScoringJob(
        prompt=rag_message(request, candidates, notes),
        calibration=rag_message(CONTENT_FREE, candidates, notes),
        candidates=tuple(candidates),
    )


def plain_job(request: str, tools: Sequence[str]) -> ScoringJob:
    return ScoringJob(
        prompt=plain_message(request),
        calibration=plain_message(CONTENT_FREE),
        candidates=tuple(tools),
    )


def calibrated_scores(
    llm: LLM, jobs: Sequence[ScoringJob], *, prefix_tokens: int = 1
) -> list[np.ndarray]:
    """Calibrated log-prob of ``name(`` for every candidate of every job.

    A candidate's score is the summed log-prob of the first ``prefix_tokens``
    tokens of ``name(`` after the real prompt minus the same after the
    content-free prompt. With one token (the default) each distinct prompt
    costs one forward pass (:meth:`LLM.next_token_logprobs`) whatever the
    number of candidates; longer prefixes score every (prompt, candidate)
    pair with :meth:`LLM.score`. Both give the same numbers for one token.

    Raises:
        GenerationError: the model backend failed.
    """
    if prefix_tokens < 1:
        raise ValueError("prefix_tokens must be positive")
    contexts: dict[str, str] = {}  # user message -> chat prompt, each distinct one once
    for job in jobs:
        for message in (job.prompt, job.calibration):
            if message not in contexts:
                contexts[message] = llm.chat_prompt(message, system=SYSTEM)
    if prefix_tokens == 1:
        raw = _first_token_scores(llm, contexts, jobs)
    else:
        raw = _prefix_scores(llm, contexts, jobs, prefix_tokens)
    return [
        np.array(
            [raw[(job.prompt, t)] - raw[(job.calibration, t)] for t in job.candidates],
            dtype=np.float64,
        )
        for job in jobs
    ]


def _first_token_scores(
    llm: LLM, contexts: dict[str, str], jobs: Sequence[ScoringJob]
) -> dict[tuple[str, str], float]:
    """Log-prob of the first token of each candidate's ``name(`` after each message.

    One forward pass per distinct message; keyed by (message, tool).
    """
    messages = list(contexts)
    dists = dict(
        zip(messages, llm.next_token_logprobs([contexts[m] for m in messages]), strict=True)
    )
    raw: dict[tuple[str, str], float] = {}
    for job in jobs:
        for message in (job.prompt, job.calibration):
            for tool in job.candidates:
                if (message, tool) not in raw:
                    token = llm.first_token_id(f"{tool}(", contexts[message])
                    raw[(message, tool)] = float(dists[message][token])
    return raw


def _prefix_scores(
    llm: LLM, contexts: dict[str, str], jobs: Sequence[ScoringJob], prefix_tokens: int
) -> dict[tuple[str, str], float]:
    """Summed log-prob of the first ``prefix_tokens`` tokens of ``name(``; each pair scored once."""
    pairs: dict[tuple[str, str], None] = {}
    for job in jobs:
        for message in (job.prompt, job.calibration):
            for tool in job.candidates:
                pairs.setdefault((message, tool))
    keys = list(pairs)
    scored = llm.score([f"{t}(" for _, t in keys], [contexts[m] for m, _ in keys]) if keys else []
    return {
        key: float(np.sum(lp[:prefix_tokens], dtype=np.float64))
        for key, lp in zip(keys, scored, strict=True)
    }


def choice_scores(
    llm: LLM, question: str, options: Sequence[str], texts: Sequence[str]
) -> np.ndarray:
    """Calibrated log-prob of each ``texts[i]`` as the answer to ``question`` among ``options``.

    Used for enum arguments the request does not settle; whole-text log-probs
    (values differ anywhere, not only in the first token).

    Raises:
        GenerationError: the model backend failed.
    """
    listing = ", ".join(options)
    real = llm.chat_prompt(f"{question}\nOptions: {listing}\nAnswer with one option.")
    null = llm.chat_prompt(f"{CONTENT_FREE}\nOptions: {listing}\nAnswer with one option.")
    lps = llm.score(list(texts) * 2, [real] * len(texts) + [null] * len(texts))
    sums = np.array([float(np.sum(lp, dtype=np.float64)) for lp in lps], dtype=np.float64)
    calibrated: np.ndarray = sums[: len(texts)] - sums[len(texts) :]
    return calibrated
