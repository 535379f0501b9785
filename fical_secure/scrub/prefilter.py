"""Pattern prefilters: let a Presidio pattern recognizer skip a text none of its patterns matches.

Presidio runs every pattern of a recognizer with per-pattern bookkeeping even
on texts where nothing matches; one search of the joined patterns (and,
first, of their lookbehinds alone) answers "nothing here" exactly and cheaply.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import regex

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer

# A backreference's number or name changes meaning once patterns are joined.
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=|\\g<|\(\?\(")
# An inline flag group without a colon, "(?x)", sets its flags for the whole expression:
# joined, it would set them for every other pattern too.
_GLOBAL_FLAGS = re.compile(r"\(\?([a-zA-Z\-]+)\)")


def _joins_safely(sources: list[str], flags: int) -> bool:
    """No backreference, and no inline global flag the recognizer's flags do not already set."""

    letters = {"i": regex.I, "m": regex.M, "s": regex.S, "x": regex.X, "a": regex.A,
               "u": regex.U, "L": regex.L}  # fmt: skip
    for source in sources:
        if _BACKREFERENCE.search(source):
            return False
        for group in _GLOBAL_FLAGS.findall(source):
            if any(c not in letters or not flags & letters[c] for c in group):
                return False
    return True


def _structure(source: str) -> tuple[int | None, bool]:
    """(index just past the group opening ``source[0]``, whether a top-level ``|`` occurs).

    Escapes are skipped, and so is everything inside a character class (a ``]``
    right after ``[`` or ``[^`` is a literal).
    """
    depth, i, in_class = 0, 0, False
    first_end: int | None = None
    top_alternation = False
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]" or (source[i - 1] == "[" or source[i - 2 : i] == "[^")
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0 and first_end is None:
                first_end = i + 1
        elif c == "|" and depth == 0:
            top_alternation = True
        i += 1
    return first_end, top_alternation


def necessary(source: str, *, verbose: bool = False) -> str:
    """A pattern that finds something in every text where ``source`` does.

    A pattern that opens with a positive lookbehind ``(?<=X)`` and has no
    top-level alternative (``(?<=X)A|B`` can match ``B`` anywhere) matches only
    right after a match of ``X``, so ``X`` itself has a match wherever it
    does: searching ``X`` forward (a literal keyword first, so fast) is a
    necessary condition, where the lookbehind makes the engine try its
    alternatives backwards at every position of the text. Any other pattern,
    and any pattern under the verbose flag (comments could hide the
    structure), is its own condition.
    """
    if verbose or not source.startswith("(?<="):
        return source
    end, alternation = _structure(source)
    if end is None or end <= 5 or alternation:
        return source
    return source[4 : end - 1]


def add_prefilter(recognizer: EntityRecognizer) -> bool:
    """Let a plain pattern recognizer skip a text none of its patterns matches.

    Presidio runs every pattern of a recognizer with per-pattern timing, logging
    and explanation objects, so a recognizer that finds nothing still costs
    tens of microseconds per pattern. Here the recognizer's patterns are joined
    into one alternation compiled with the same flags, and one ``search`` decides
    whether to run Presidio's analysis at all. Where a pattern opens with a
    lookbehind, a cheaper alternation of the lookbehinds alone
    (:func:`necessary`) is searched first. The answer is exact: an alternation
    matches at a position exactly when one of its alternatives does, and each
    alternative matches wherever its pattern does, so a gate finds nothing
    only when no pattern would.

    Only recognizers that use ``PatternRecognizer.analyze`` unchanged are
    wrapped (a subclass with its own ``analyze`` may find more than its
    patterns), and a gate is used only when its patterns join safely (no
    backreferences, no inline global flag the recognizer's own flags do not
    already set).
    Returns whether a prefilter was added.
    """
    from presidio_analyzer import PatternRecognizer

    if not isinstance(recognizer, PatternRecognizer):
        return False
    patterns: list[Any] = list(getattr(recognizer, "patterns", None) or [])
    if type(recognizer).analyze is not PatternRecognizer.analyze or not patterns:
        return False
    own_flags = recognizer.global_regex_flags
    if own_flags is None:
        return False
    gates: list[tuple[list[str], Any]] = []  # the lookbehinds alone (cheap), then the patterns
    verbose = bool(own_flags & regex.X)
    lookbehinds = [necessary(p.regex, verbose=verbose) for p in patterns]
    for sources in (lookbehinds, [p.regex for p in patterns]):
        if (gates and sources == gates[-1][0]) or not _joins_safely(sources, own_flags):
            continue
        try:
            joined = regex.compile("|".join(f"(?:{s})" for s in sources), flags=own_flags)
        except regex.error:
            continue
        gates.append((sources, joined))
    if not gates:
        return False
    searches = [joined.search for _, joined in gates]
    analyze = recognizer.analyze

    def prefiltered(
        text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[Any]:
        flags = regex_flags if regex_flags else own_flags
        if flags == own_flags and any(search(text) is None for search in searches):
            return []
        return analyze(text, entities, nlp_artifacts=nlp_artifacts, regex_flags=regex_flags)

    recognizer.analyze = prefiltered  # type: ignore[method-assign]
    return True
