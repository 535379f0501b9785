"""Validation and repair of what a (weak) model writes as a compendium note.

A note is repaired when a mechanical fix recovers it (chat artefacts, quotes,
bullets, "Answer:" prefixes, JSON wrapping, a second sentence, excess length)
and dropped when it is empty, too short, garbage, an echo of the prompt or of
the prompt's example answer, or carries values that look copied from records
(MRN-like ids, digit runs, e-mail addresses, phone numbers, or any given
record value). The PII filter is deliberately conservative and is not the
scrubber: the Presidio stage still runs on the whole compendium afterwards.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from fical_secure.errors import SchemaError, UntrustedInputError
from fical_secure.kcg.schema import MAX_ENTRY_CHARS
from fical_secure.untrusted import loads_bounded

MIN_WORDS = 4
ECHO_SIMILARITY = 0.8  # difflib ratio to the example answer above which a note is an echo

_ARTEFACTS = re.compile(r"<\|[^|>]*\|>|</?s>|\[/?INST\]")
_ROLE_PREFIX = re.compile(r"^\s*(?:assistant|user|system)\s*:?\s*\n?", re.IGNORECASE)
_LABEL_PREFIX = re.compile(
    r"^\s*(?:answer|sentence|note|response|output|summary|purpose|usage|pitfall|arguments)"
    r"\s*[:\-]\s*",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•>]+|\d+[.)]|#+)\s+")
_WRAPPERS = "\"'`“”‘’*_ "
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)[.!?][\"'”’)\]]*(?=\s|$)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TITLE_WORD = re.compile(r"\b[A-Z][a-z]{2,}\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s*|\n\s*)$")
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$", re.IGNORECASE)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")

# conservative patterns of record values that must never reach a note
PII_PATTERNS: dict[str, re.Pattern[str]] = {
    "mrn": re.compile(r"\bMRN[\s:#-]*[\dX#]{3,}", re.IGNORECASE),
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "phone": re.compile(r"\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}"),
    "digits": re.compile(r"\d{3,}"),
    "masked": re.compile(r"#{3,}|<email>"),  # a value the prompt masked, copied back
}


@dataclass
class RepairLog:
    """Counts of repairs and drops, by reason; stored in ``Compendium.meta``."""

    repaired: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    kept: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "repaired": dict(sorted(self.repaired.items())),
            "dropped": dict(sorted(self.dropped.items())),
        }


def parse_json_lenient(text: str) -> Any:
    """Parse JSON as a weak model writes it: code fences, trailing commas, single quotes.

    Raises:
        SchemaError: nothing parseable as a JSON value was found.
    """
    body = _FENCE.sub("", text.strip())
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise SchemaError('model output holds no JSON object or array; expected e.g. {"text": ...}')
    end = max(body.rfind("}"), body.rfind("]"))
    candidate = _TRAILING_COMMA.sub(r"\1", body[start : end + 1])
    try:
        return loads_bounded(candidate)
    except UntrustedInputError:
        pass
    try:  # single quotes, True/None: a Python literal, parsed without evaluating code
        return ast.literal_eval(candidate)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise SchemaError(
            f"model output is not recoverable JSON ({exc.__class__.__name__}): {candidate[:80]!r}"
        ) from exc


def _json_text(raw: str) -> str | None:
    """The note inside a JSON-looking output (``{"text": ...}`` or first string), if any."""
    stripped = _FENCE.sub("", raw.strip())
    if not stripped.startswith(("{", "[")):
        return None
    value = parse_json_lenient(stripped)
    if isinstance(value, dict):
        for key in ("text", "answer", "sentence", "note"):
            if isinstance(value.get(key), str):
                return str(value[key])
        value = list(value.values())
    if isinstance(value, list):
        return next((v for v in value if isinstance(v, str)), None)
    return None


def _strip_wrapping(text: str, log: RepairLog) -> str:
    """Remove chat artefacts, role/label prefixes, bullets and quotes."""
    original = text
    text = _ARTEFACTS.sub(" ", text).replace("**", "").replace("__", "")
    text = _ROLE_PREFIX.sub("", text)
    text = text.strip().split("\n", 1)[0] if text.strip() else ""
    for pattern in (_BULLET, _LABEL_PREFIX, _BULLET):
        text = pattern.sub("", text)
    text = text.strip(_WRAPPERS)
    if text != original.strip():
        log.repaired["stripped"] += 1
    return " ".join(text.split())


def _first_sentence(text: str, log: RepairLog) -> str:
    """Cut at the first sentence end; cap at ``MAX_ENTRY_CHARS`` on a word boundary."""
    match = _SENTENCE_END.search(text)
    if match and match.end() < len(text):
        text = text[: match.end()]
        log.repaired["cut_sentence"] += 1
    if len(text) > MAX_ENTRY_CHARS:
        text = text[: MAX_ENTRY_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "."
        log.repaired["truncated"] += 1
    return text.strip(_WRAPPERS)


def is_garbage(text: str) -> bool:
    """True for text that is not plausibly an English sentence (symbols, loops, no words)."""
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return True
    letters = sum(c.isascii() and c.isalpha() for c in visible)
    if letters / len(visible) < 0.7:
        return True
    words = re.findall(r"[a-z]+", text.lower())
    if not words or not any(set(w) & set("aeiouy") for w in words):
        return True
    top = Counter(words).most_common(1)[0][1]
    return len(words) >= 6 and top / len(words) > 0.4


def pii_reason(
    text: str, record_values: Iterable[str] = (), name_words: Iterable[str] = ()
) -> str | None:
    """The name of the first record-value pattern found in ``text``, else ``None``.

    ``record_values`` match as case-insensitive substrings (numbers as whole
    numbers, from two digits on); ``name_words``
    (Title Case words of the records, e.g. a patient's name) as whole words.
    """
    for name, pattern in PII_PATTERNS.items():
        if pattern.search(text):
            return name
    lowered = text.lower()
    for value in record_values:
        if _NUMBER.fullmatch(value):  # ages, weights: quasi-identifiers even when short
            if len(value) >= 2 and re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", text):
                return "record_value"
        elif len(value) >= 4 and value.lower() in lowered:
            return "record_value"
    words = set(re.findall(r"[A-Za-z]+", text))
    if any(word in words for word in name_words):
        return "name"
    return None


def name_words(requests: Iterable[str], exempt: str = "") -> set[str]:
    """Title Case words inside ``requests`` (not sentence-initial): likely names and places.

    Words that also occur in ``exempt`` (e.g. the rendered calls) are vocabulary
    the note may use.
    """
    allowed = exempt.lower()
    found: set[str] = set()
    for request in requests:
        for match in _TITLE_WORD.finditer(request):
            if (
                not _SENTENCE_START.search(request[: match.start()])
                and match.group().lower() not in allowed
            ):
                found.add(match.group())
    return found


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


def is_echo(text: str, prompt: str, example: str) -> bool:
    """True when ``text`` repeats the prompt instead of answering it.

    That is: it is (nearly) the example or opening alone, repeats the opening,
    is a verbatim span of the prompt, or quotes four words in a row from the
    prompt's instruction lines (the lines after the examples) other than the opening.
    """
    norm = " ".join(text.lower().split()).strip(" .")
    opening = example.lower().strip(" .")
    if SequenceMatcher(None, norm, opening).ratio() >= ECHO_SIMILARITY:
        return True
    if norm.count(opening) >= 2 or opening in norm[1:]:
        return True  # the opening quoted back, or repeated, instead of being continued
    if len(norm.split()) >= 5 and norm in " ".join(prompt.lower().split()):
        return True
    instruction = prompt.rsplit("\n\n", 1)[-1].lower().replace(opening, " | ")
    grams = {tuple(g) for part in instruction.split("|") for g in _ngrams(_words(part), 4)}
    return any(tuple(g) in grams for g in _ngrams(_words(norm.replace(opening, " ")), 4))


def _ngrams(words: list[str], n: int) -> list[list[str]]:
    return [words[i : i + n] for i in range(len(words) - n + 1)]


def repair_note(
    raw: str,
    *,
    prompt: str,
    example: str,
    log: RepairLog,
    record_values: Iterable[str] = (),
    names: Iterable[str] = (),
    tool: str | None = None,
) -> str | None:
    """Return a clean one-sentence note from model output ``raw``, or ``None`` if dropped.

    ``example`` is the answer form the prompt showed (a note that merely
    repeats it says nothing); ``record_values`` are values of the records the
    prompt showed, and ``names`` the Title Case words of its records (see
    :func:`name_words`): a note must contain neither. Mentions of ``tool`` are
    restored to its exact identifier (the model writes "Lab_results_lookup").
    """
    try:
        inner = _json_text(raw)
    except SchemaError:
        log.dropped["bad_json"] += 1
        return None
    if inner is not None:
        log.repaired["json"] += 1
        raw = inner
    text = _first_sentence(_strip_wrapping(raw, log), log)
    if tool:
        text = re.sub(rf"\b{re.escape(tool)}\b", tool, text, flags=re.IGNORECASE)
    reason: str | None = None
    if not text:
        reason = "empty"
    elif is_garbage(text):
        reason = "garbage"
    elif len(text.split()) < MIN_WORDS:
        reason = "too_short"
    elif is_echo(text, prompt, example):
        reason = "echo"
    else:
        reason = pii_reason(text, record_values, names)
        reason = f"pii_{reason}" if reason else None
    if reason:
        log.dropped[reason] += 1
        return None
    if text[-1] not in ".!?":
        text += "."
        log.repaired["terminated"] += 1
    log.kept += 1
    return text if tool and text.startswith(tool) else text[0].upper() + text[1:]
