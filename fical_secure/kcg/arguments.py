"""Mine argument knowledge from call logs: shapes, usual values, omitted optionals, normalisations.

Real logs teach how a tool's arguments are written as much as which tool to
call. Per (tool, argument path) (dotted for object members; the items of an
array share the array's path), with ``k = min_support`` distinct subjects
(:mod:`fical_secure.kcg.subjects`, the privacy floor):

- **shape** (:class:`ArgumentShape`): for a free-text argument (a string
  without enum or pattern), the most specific shape of :mod:`.shapes` that at
  least ``min_shape_share`` of its written values have, the calls whose values
  all have it coming from k subjects;
- **usual value** (:class:`UsualValue`): a value written in calls of k
  subjects whose requests do not contain it, and in more than
  ``min_usual_share`` of the tool's calls whose requests do not contain it;
- **omitted** (:class:`OmittedArgument`): a schema-optional argument absent
  from more than ``min_omitted_share`` of the tool's calls (those whose parent
  object is present), the absent ones from k subjects;
- **normalisation** (:class:`Normalisation`): a request phrase (as cues cut
  them, :func:`~fical_secure.kcg.cues.ngrams`) for a free-text value the
  request does not contain verbatim ("nyc" -> ``"New York, NY"``), seen with
  that value in k subjects' calls and with precision ``min_precision`` among
  the tool's requests that contain it; phrases that share a word or the
  initials with the value first, then by support, as a set cover of the
  value's calls. A usual value gets no normalisations (every phrase of its
  tool would point at it).

No usual value or normalisation is longer than ``max_value_chars`` or holds a
run of five digits (identifiers, not conventions), and none whose phrase or
value shares a token with a known identifier of the hospital
(:meth:`KnownIdentifiers.named_in`). No claim may spell out most
(``max_cover``) of one request. :func:`verify_argument_claim` re-checks a
finished claim by scanning the episodes again, not the miner's tables.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fical_secure.data.schema import ArgSpec, ArgValue, Episode, ToolSpec
from fical_secure.kcg.claims import (
    ArgumentClaim,
    ArgumentShape,
    Normalisation,
    OmittedArgument,
    UsualValue,
    value_json,
)
from fical_secure.kcg.cues import cover, ngrams, phrase_in, words
from fical_secure.kcg.shapes import BY_NAME, first_fit
from fical_secure.kcg.subjects import Subjects, subjects_of
from fical_secure.scrub.known import KnownIdentifiers

_ID_DIGITS = re.compile(r"\d{5,}")


@dataclass(frozen=True)
class ArgumentRules:
    """Thresholds argument claims must clear (see the module docstring)."""

    min_support: int = 2
    min_shape_share: float = 0.9
    min_usual_share: float = 0.5
    min_omitted_share: float = 0.5
    min_precision: float = 0.8
    per_value: int = 3
    max_cover: float = 0.5
    max_value_chars: int = 60

    def __post_init__(self) -> None:
        if self.min_support < 1 or self.per_value < 1 or self.max_value_chars < 1:
            raise ValueError("min_support, per_value and max_value_chars must be at least 1")
        shares = (self.min_shape_share, self.min_precision, self.max_cover)
        if not all(0.0 < s <= 1.0 for s in shares):
            raise ValueError("min_shape_share, min_precision and max_cover must be in (0, 1]")
        if not all(0.0 <= s < 1.0 for s in (self.min_usual_share, self.min_omitted_share)):
            raise ValueError("min_usual_share and min_omitted_share must be in [0, 1)")


def arg_paths(spec: ToolSpec) -> dict[str, ArgSpec]:
    """Every argument path of ``spec`` and its summary (array items under the array's path)."""
    out: dict[str, ArgSpec] = {}

    def visit(arg: ArgSpec, path: str) -> None:
        out.setdefault(path, arg)
        inner = arg.items if arg.items is not None else None
        for member in (inner or arg).fields:
            visit(member, f"{path}.{member.name}")

    for top in spec.args:
        visit(top, top.name)
    return out


def values_at(arguments: Mapping[str, ArgValue], prefix: str = "") -> dict[str, list[ArgValue]]:
    """The whole values a call writes per path (objects inside arrays under ``path.member``)."""
    out: dict[str, list[ArgValue]] = defaultdict(list)
    for name, value in arguments.items():
        path = f"{prefix}{name}"
        out[path].append(value)
        objects = [value] if isinstance(value, dict) else []
        objects += [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
        for obj in objects:
            for inner, found in values_at(obj, f"{path}.").items():
                out[inner].extend(found)
    return out


def strings_at(values: Sequence[ArgValue]) -> list[str]:
    """The string scalars among ``values`` and their array elements."""
    flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
    return [x for x in flat if isinstance(x, str)]


def free_text(arg: ArgSpec) -> bool:
    """A string (or untyped) argument without enum or pattern: its form is left open."""
    inner = arg.items if arg.type == "array" and arg.items is not None else arg
    return inner.type in ("str", "any", "date") and inner.pattern is None and not inner.choices


def mentions(request: str, value: Any) -> bool:
    """Whether the request writes ``value`` (case-insensitive, word-bounded; every leaf)."""
    low = request.lower()
    if isinstance(value, list | dict):
        leaves = list(value.values()) if isinstance(value, dict) else value
        return bool(leaves) and all(mentions(request, v) for v in leaves)
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).lower()
    return re.search(rf"(?<![a-z0-9.]){re.escape(text)}(?![a-z0-9])", low) is not None


def _initials(text: str) -> str:
    return "".join(w[0] for w in words(text))


def related(phrase: str, value: str) -> bool:
    """A phrase that shares a word or the initials with the value it stands for."""
    own = set(words(value))
    return bool(set(phrase.split()) & own) or phrase.replace(" ", "") == _initials(value)


@dataclass(frozen=True)
class _Checks:
    """What every argument claim is checked against, beside its own statistics."""

    rules: ArgumentRules
    subjects: Subjects
    known: KnownIdentifiers
    requests: tuple[list[str], ...]

    def enough(self, episode_ids: Sequence[str] | set[str]) -> bool:
        return self.subjects.count(episode_ids) >= self.rules.min_support

    def releasable(self, phrase: str, value: str) -> bool:
        """No identifier-like or known value, and no request mostly spelled out."""
        leaves = " ".join(strings_at([_loads(value)])) or value
        if len(value) > self.rules.max_value_chars or _ID_DIGITS.search(value):
            return False
        text = f"{phrase} {leaves}".strip()
        if self.known.named_in(leaves) or any(self.known.named_in(w) for w in words(text)):
            return False
        tokens = sorted(set(words(text)))
        return not any(cover(tokens, r) >= self.rules.max_cover for r in self.requests)


def _loads(value: str) -> ArgValue:
    loaded: ArgValue = json.loads(value)
    return loaded


def _checks(
    episodes: Sequence[Episode], rules: ArgumentRules, known: KnownIdentifiers | None
) -> _Checks:
    requests = tuple(words(e.request) for e in episodes)
    return _Checks(rules, subjects_of(episodes), known or KnownIdentifiers(), requests)


def _by_tool(
    episodes: Sequence[Episode], catalogue: Sequence[ToolSpec]
) -> Iterator[tuple[ToolSpec, list[Episode]]]:
    specs = {s.name: s for s in catalogue}
    grouped: dict[str, list[Episode]] = defaultdict(list)
    for e in episodes:
        grouped[e.call.tool].append(e)
    for tool in sorted(grouped):
        if tool in specs:
            yield specs[tool], grouped[tool]


def mine_argument_claims(
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    *,
    rules: ArgumentRules | None = None,
    known: KnownIdentifiers | None = None,
) -> list[ArgumentClaim]:
    """The argument claims ``episodes`` support (see the module docstring), by tool and path."""
    checks = _checks(episodes, rules or ArgumentRules(), known)
    claims: list[ArgumentClaim] = []
    for spec, calls in _by_tool(episodes, catalogue):
        written = [values_at(e.call.arguments) for e in calls]
        for path, arg in arg_paths(spec).items():
            claims += _mine_path(spec.name, path, arg, calls, written, checks)
    return claims


def _mine_path(
    tool: str,
    path: str,
    arg: ArgSpec,
    calls: list[Episode],
    written: list[dict[str, list[ArgValue]]],
    checks: _Checks,
) -> list[ArgumentClaim]:
    rules, out = checks.rules, list[ArgumentClaim]()
    at = [w.get(path, []) for w in written]
    if free_text(arg):
        texts = [strings_at(values) for values in at]
        shape = first_fit([t for ts in texts for t in ts], rules.min_shape_share)
        fits = [
            e.episode_id
            for e, ts in zip(calls, texts, strict=True)
            if shape is not None and ts and all(shape.fits(t) for t in ts)
        ]
        if shape is not None and checks.enough(fits):
            out.append(ArgumentShape(tool, path, shape.name))
    if not arg.required:
        parent = path.rpartition(".")[0]
        base = [i for i, w in enumerate(written) if not parent or parent in w]
        absent = [calls[i].episode_id for i in base if path not in written[i]]
        if base and len(absent) > rules.min_omitted_share * len(base) and checks.enough(absent):
            out.append(OmittedArgument(tool, path))
    norms = _normalisations(tool, path, calls, at, checks) if free_text(arg) else []
    said: dict[str, list[str]] = defaultdict(list)
    for n in norms:
        said[n.value].append(n.phrase)
    return out + _usual_values(tool, path, calls, at, said, checks) + norms


def _usual_values(
    tool: str,
    path: str,
    calls: list[Episode],
    at: list[list[ArgValue]],
    said: Mapping[str, list[str]],
    checks: _Checks,
) -> list[UsualValue]:
    """Values written where the request says neither them nor a normalisation phrase of them."""
    seen: dict[str, ArgValue] = {}
    for values in at:
        for v in values:
            if v is not None:
                seen.setdefault(value_json(v), v)
    out = []
    for text, value in sorted(seen.items()):
        silent = [
            (e, values)
            for e, values in zip(calls, at, strict=True)
            if not mentions(e.request, value)
        ]
        shown = [e.episode_id for e, values in silent if any(value_json(v) == text for v in values)]
        share_ok = silent and len(shown) > checks.rules.min_usual_share * len(silent)
        if share_ok and checks.enough(shown) and checks.releasable("", text):
            out.append(UsualValue(tool, path, text))
    return out


def _normalisations(
    tool: str,
    path: str,
    calls: list[Episode],
    at: list[list[ArgValue]],
    checks: _Checks,
) -> list[Normalisation]:
    """Request phrases that stand for a value calls write but the request does not."""
    grams = {e.episode_id: ngrams(words(e.request)) for e in calls}
    anywhere: dict[str, set[str]] = defaultdict(set)
    for eid, gs in grams.items():
        for g in gs:
            anywhere[g].add(eid)
    support: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e, values in zip(calls, at, strict=True):
        for v in strings_at(values):
            if not mentions(e.request, v):
                for g in grams[e.episode_id]:
                    support[(value_json(v), g)].add(e.episode_id)
    by_value: dict[str, list[str]] = defaultdict(list)
    has = {
        text: [text in {value_json(x) for x in strings_at(values)} for values in at]
        for text in {t for t, _ in support}
    }
    for (text, gram), ids in support.items():
        inside = [
            h for e, h in zip(calls, has[text], strict=True) if e.episode_id in anywhere[gram]
        ]
        outside = [
            h for e, h in zip(calls, has[text], strict=True) if e.episode_id not in anywhere[gram]
        ]
        if _lifted(inside, outside, checks.rules) and checks.enough(ids):
            if checks.releasable(gram, text):
                by_value[text].append(gram)
    out = []
    for text, candidates in sorted(by_value.items()):
        value = str(_loads(text))
        ranked = sorted(
            candidates,
            key=lambda g: (
                not related(g, value),
                -checks.subjects.count(support[(text, g)]),
                -len(g),
                g,
            ),
        )
        covered: set[str] = set()
        kept: list[str] = []
        for gram in ranked:
            fresh = support[(text, gram)] - covered
            if len(kept) < checks.rules.per_value and checks.enough(fresh):
                if not any(gram in k or k in gram for k in kept):
                    kept.append(gram)
                    covered |= support[(text, gram)]
        out += [Normalisation(tool, path, g, text) for g in kept]
    return out


def _lifted(inside: list[bool], outside: list[bool], rules: ArgumentRules) -> bool:
    """The value is written in ``min_precision`` of the calls whose request has the phrase,
    and in at most ``min_usual_share`` of the others (there must be others): the phrase,
    not a default, explains it."""
    if not inside or not outside:
        return False
    precise = sum(inside) >= rules.min_precision * len(inside)
    return precise and sum(outside) <= rules.min_usual_share * len(outside)


def verify_argument_claim(
    claim: ArgumentClaim,
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    rules: ArgumentRules | None = None,
    known: KnownIdentifiers | None = None,
) -> int | None:
    """Distinct subjects whose calls show ``claim``; ``None`` if it fails a rule.

    Recomputed by scanning the episodes of the claim's tool again, with the
    identifier and reproduction checks of the miner.
    """
    checks = _checks(episodes, rules or ArgumentRules(), known)
    spec = next((s for s in catalogue if s.name == claim.tool), None)
    arg = arg_paths(spec).get(claim.path) if spec is not None else None
    if arg is None:
        return None
    calls = [(e, values_at(e.call.arguments)) for e in episodes if e.call.tool == claim.tool]
    if isinstance(claim, ArgumentShape):
        shown = _shape_shown(claim, arg, calls, checks.rules)
    elif isinstance(claim, OmittedArgument):
        shown = _omitted_shown(claim, arg, calls, checks.rules)
    elif isinstance(claim, UsualValue):
        shown = _usual_shown(claim, calls, checks)
    else:
        shown = _normal_shown(claim, arg, calls, checks)
    return checks.subjects.count(shown) if shown is not None and checks.enough(shown) else None


Written = list[tuple[Episode, dict[str, list[ArgValue]]]]


def _shape_shown(
    claim: ArgumentShape, arg: ArgSpec, calls: Written, rules: ArgumentRules
) -> list[str] | None:
    shape = BY_NAME.get(claim.shape)
    if shape is None or not free_text(arg):
        return None
    matched = total = 0
    shown = []
    for e, written in calls:
        texts = strings_at(written.get(claim.path, []))
        hits = sum(shape.fits(t) for t in texts)
        matched, total = matched + hits, total + len(texts)
        if texts and hits == len(texts):
            shown.append(e.episode_id)
    return shown if total and matched >= rules.min_shape_share * total else None


def _omitted_shown(
    claim: OmittedArgument, arg: ArgSpec, calls: Written, rules: ArgumentRules
) -> list[str] | None:
    if arg.required:
        return None
    parent = claim.path.rpartition(".")[0]
    base = [(e, w) for e, w in calls if not parent or parent in w]
    shown = [e.episode_id for e, w in base if claim.path not in w]
    return shown if base and len(shown) > rules.min_omitted_share * len(base) else None


def _usual_shown(claim: UsualValue, calls: Written, checks: _Checks) -> list[str] | None:
    value = _loads(claim.value)
    silent = [(e, w) for e, w in calls if not mentions(e.request, value)]
    shown = [
        e.episode_id
        for e, w in silent
        if any(value_json(v) == claim.value for v in w.get(claim.path, []))
    ]
    share = len(shown) > checks.rules.min_usual_share * len(silent) if silent else False
    return shown if share and checks.releasable("", claim.value) else None


def _normal_shown(
    claim: Normalisation, arg: ArgSpec, calls: Written, checks: _Checks
) -> list[str] | None:
    value = _loads(claim.value)
    if not free_text(arg) or not isinstance(value, str):
        return None
    has = {e.episode_id: value in strings_at(w.get(claim.path, [])) for e, w in calls}
    hits = {e.episode_id for e, _ in calls if phrase_in(words(e.request), claim.phrase)}
    inside = [h for eid, h in has.items() if eid in hits]
    outside = [h for eid, h in has.items() if eid not in hits]
    if not _lifted(inside, outside, checks.rules):
        return None
    shown = [
        e.episode_id
        for e, _ in calls
        if e.episode_id in hits and has[e.episode_id] and not mentions(e.request, value)
    ]
    return shown if checks.releasable(claim.phrase, claim.value) else None
