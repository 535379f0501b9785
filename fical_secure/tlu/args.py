"""Fill a chosen tool's arguments from the request text, within the catalogue schema.

A weak local model cannot be trusted to copy an MRN or a dose, so arguments
are extracted, not generated: patterned ids by their regex, dates in the five
styles clinicians write (:mod:`fical_secure.tlu.dates`), enum values by their
standard words and the aliases a compendium taught
(:mod:`fical_secure.tlu.knowledge`), numbers by the unit or cue word next to
them. Only an enum the text does not settle is left to an optional
``chooser`` (e.g. the model's calibrated log-prob over the allowed values).
Dates of birth and contact details are masked first so they are never
mistaken for an appointment date or a dose.

Argument hints a compendium taught (:class:`~fical_secure.tlu.hints.ArgumentHint`,
top-level arguments) add four rules: a request phrase with a known
normalisation gives its written value ("nyc" -> ``"New York, NY"``); a free
string argument with a known shape takes the first free span of the request
with that shape (ISO dates also from the other date styles); an argument the
request gives no value for takes its usual value; and an optional argument
calls usually leave out is filled only from explicit evidence (an id pattern,
an enum word, a normalisation, a number with its unit or cue word), never by
the fallbacks (a stray number, a shaped span, a usual value). With a ``year``
for dates written without one, "March 7th" is a date too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from fical_secure.data.schema import ArgSpec, ArgValue, ToolSpec
from fical_secure.data.vocab import value_surfaces
from fical_secure.kcg.shapes import BY_NAME, BY_PATTERN
from fical_secure.tlu.dates import as_slash, dates_in
from fical_secure.tlu.hints import ArgumentHint
from fical_secure.tlu.spans import name_heads

# (request, tool, arg, allowed values) -> chosen value
EnumChooser = Callable[[str, ToolSpec, ArgSpec, Sequence[str]], str]


@dataclass(frozen=True)
class ArgFill:
    """Arguments found in a request; ``missing`` lists the required ones it did not settle.

    ``reasons`` says, for every argument left unfilled (required or not), why
    no rule settled it.
    """

    arguments: dict[str, ArgValue]
    missing: tuple[str, ...]
    reasons: Mapping[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.missing


# Numeric arguments: (units right after the number, cue words just before it).
NUMERIC_CUES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "weight_kg": (("kg", "kilogram", "kilo"), ("weight", "weighs", "weighing", "wt")),
    "height_cm": (("cm", "centimet"), ("height", "tall")),
    "dose_mg_per_kg": (("mg/kg", "mg per kg", "mg / kg"), ("dose", "dosing")),
    "creatinine_mg_dl": (("mg/dl",), ("creatinine", "cr", "scr")),
    "age": (("-year", "year", "yr", "yo", "y/o", "y.o"), ("age", "aged")),
    "days_supply": (("-day", "day"), ("supply", "fill")),
    "value": (("mg/dl", "mmol/l", "mmol"), ("glucose", "sugar", "read", "of")),
}
_UNIT_SCORE, _CUE_SCORE = 3, 1
_CUE_WINDOW_CHARS = 24

_NOISE = (
    re.compile(r"\S+@\S+"),  # emails
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),  # SSNs
    re.compile(r"(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?:\s*x\d+)?"),  # phones
    re.compile(r"\b[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}\b", re.I),  # canary-like secrets
)
_NUMBER = re.compile(r"(?<![\w./-])(\d+(?:\.\d+)?)(?![\w.]*\d)(?![-/]\d)")


class _Text:
    """The request with a mask of characters already claimed by an extraction."""

    def __init__(self, request: str) -> None:
        self.raw = request
        self.low = request.lower()
        self.used = [False] * len(request)

    def free(self, start: int, end: int) -> bool:
        return not any(self.used[start:end])

    def claim(self, start: int, end: int) -> None:
        for i in range(start, end):
            self.used[i] = True


def fill_arguments(
    request: str,
    spec: ToolSpec,
    *,
    chooser: EnumChooser | None = None,
    aliases: Mapping[str, str] | None = None,
    hints: Mapping[str, ArgumentHint] | None = None,
    year: int | None = None,
) -> ArgFill:
    """Extract ``spec``'s arguments from ``request``; unsettled enums go to ``chooser``.

    ``aliases`` maps lower-case phrases to enum values (a compendium's learned
    jargon, see :mod:`fical_secure.tlu.knowledge`); without them only the
    values' standard words are recognised. ``hints``: argument path -> what
    the compendium says about it (see the module docstring). ``year``: the year of
    dates the request writes without one (none are read without it).
    """
    hints = hints or {}
    weak = {a.name for a in spec.args if not a.required and _omitted(hints.get(a.name))}
    text = _Text(request)
    found: dict[str, ArgValue] = {}
    for arg in spec.args:
        if arg.pattern is not None:
            _fill_pattern(text, arg.name, arg.pattern, found)
    dates = dates_in(text.raw, text.used, year)  # a date's digits are never numbers
    for arg in spec.args:
        if arg.type == "date" and dates:
            found[arg.name] = dates[0]
    for pattern in _NOISE:
        for m in pattern.finditer(request):
            text.claim(m.start(), m.end())
    # before enums: an enum alias mined where every call wrote one value may claim any word
    _fill_normalised(text, spec.args, found, hints)
    _fill_enums(text, [a for a in spec.args if a.type == "enum"], found, aliases or {})
    for arg in spec.args:
        if arg.type == "array" and arg.items is not None and arg.items.type == "enum":
            _fill_enum_list(text, arg, found, aliases or {})
    _fill_numbers(text, [a for a in spec.args if a.type in ("int", "float")], found, weak)
    _fill_shaped(text, [a for a in spec.args if a.name not in weak], found, hints, dates)
    for arg in spec.args:
        hint = hints.get(arg.name)
        usual = hint.usual_value if hint is not None else None
        if arg.name not in found and arg.name not in weak and usual is not None:
            found[arg.name] = usual
    for arg in spec.args:
        if arg.name not in found and arg.type == "enum" and chooser is not None:
            choice = chooser(request, spec, arg, arg.choices)
            if choice in arg.choices:
                found[arg.name] = choice
    ordered = {a.name: found[a.name] for a in spec.args if a.name in found}
    missing = tuple(a.name for a in spec.args if a.name not in found and a.required)
    reasons = {a.name: _unfilled_reason(a) for a in spec.args if a.name not in found}
    return ArgFill(ordered, missing, reasons)


_REASONS = {
    "object": "an object: the rule-based filler does not compose objects",
    "array": "a list whose items are not enum values: the rule-based filler does not compose it",
    "any": "the schema leaves its type open: no rule extracts it",
    "str": "free text without a pattern: no rule extracts it",
    "bool": "a yes/no flag: no rule extracts it",
}


def _unfilled_reason(arg: ArgSpec) -> str:
    """Why the rules left ``arg`` unfilled (its type has no rule, or the request lacks it)."""
    if arg.type == "str" and arg.pattern is not None:
        return "no value matching its pattern in the request"
    if arg.type == "array" and arg.items is not None and arg.items.type == "enum":
        return "none of its allowed values is mentioned in the request"
    return _REASONS.get(arg.type, f"no {arg.type} value for it in the request")


def _fill_pattern(text: _Text, name: str, pattern: str, found: dict[str, ArgValue]) -> None:
    body = pattern.removeprefix("^").removesuffix("$")
    finder = re.compile(rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9])")
    for m in finder.finditer(text.raw):
        if text.free(m.start(), m.end()):
            found[name] = m.group(0)
            text.claim(m.start(), m.end())
            return


def enum_surfaces(
    arg: ArgSpec, choice: str, aliases: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """Lower-case ways of writing ``choice`` in a request, longest first."""
    forms = set(value_surfaces(arg.name, choice))
    forms.update(p.lower() for p, v in (aliases or {}).items() if v == choice)
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


def _enum_mentions(
    text: _Text, arg: ArgSpec, aliases: Mapping[str, str]
) -> list[tuple[int, int, str, bool]]:
    """(start, end, choice, follows_a_number) for each mention of one of ``arg``'s values."""
    mentions = []
    for choice in arg.choices:
        for surface in enum_surfaces(arg, choice, aliases):
            pattern = rf"(?<![a-z0-9]){re.escape(surface)}(?![a-z0-9])"
            for m in re.finditer(pattern, text.low):
                if text.free(m.start(), m.end()):
                    after_number = re.search(r"\d\s*$", text.raw[: m.start()]) is not None
                    mentions.append((m.start(), m.end(), choice, after_number))
    # longest surface wins where mentions overlap
    mentions.sort(key=lambda t: (t[0], -(t[1] - t[0])))
    kept: list[tuple[int, int, str, bool]] = []
    for mention in mentions:
        if not kept or mention[0] >= kept[-1][1]:
            kept.append(mention)
    return kept


def _fill_enums(
    text: _Text, args: Sequence[ArgSpec], found: dict[str, ArgValue], aliases: Mapping[str, str]
) -> None:
    """Args sharing one value set (drug_a, drug_b) take distinct mentions in text order."""
    by_choices: dict[tuple[str, ...], list[ArgSpec]] = {}
    for arg in args:
        by_choices.setdefault(arg.choices, []).append(arg)
    for group in by_choices.values():
        mentions = _enum_mentions(text, group[0], aliases)
        # a unit right after a number is that number's unit (glucose "from" unit)
        single = len(group) == 1
        mentions.sort(key=lambda t: (single and not t[3], t[0]))
        chosen: list[str] = []
        for _start, _end, choice, _after in mentions:
            if choice not in chosen:
                chosen.append(choice)
        for arg, choice in zip(group, chosen, strict=False):
            found[arg.name] = choice
        for start, end, _choice, _after in mentions:
            text.claim(start, end)


def _fill_enum_list(
    text: _Text, arg: ArgSpec, found: dict[str, ArgValue], aliases: Mapping[str, str]
) -> None:
    """A list of enum values: every distinct allowed value mentioned, in text order."""
    assert arg.items is not None
    mentions = _enum_mentions(text, replace(arg.items, name=arg.name), aliases)
    chosen = list(dict.fromkeys(choice for _s, _e, choice, _after in sorted(mentions)))
    if chosen:
        found[arg.name] = list(chosen)
        for start, end, _choice, _after in mentions:
            text.claim(start, end)


def _number_score(text: _Text, start: int, end: int, arg_name: str) -> int:
    units, cues = NUMERIC_CUES.get(arg_name, ((), tuple(arg_name.split("_"))))
    after = text.low[end : end + 12].lstrip()
    before = text.low[max(0, start - _CUE_WINDOW_CHARS) : start]
    score = _UNIT_SCORE if any(after.startswith(u) for u in units) else 0
    words = set(re.findall(r"[a-z]+", before))
    if any(c in words for c in cues):
        score += _CUE_SCORE
    return score


def _omitted(hint: ArgumentHint | None) -> bool:
    return hint is not None and hint.omitted


def _fill_normalised(
    text: _Text,
    args: Sequence[ArgSpec],
    found: dict[str, ArgValue],
    hints: Mapping[str, ArgumentHint],
) -> None:
    """Arguments whose known request phrases the request says take the values calls wrote."""
    for arg in args:
        hint = hints.get(arg.name)
        if arg.name in found or hint is None or arg.type == "enum":
            continue
        hits: list[tuple[int, int, ArgValue]] = []
        for phrase, value in sorted(hint.normalisations.items(), key=lambda pv: -len(pv[0])):
            if not isinstance(value, str | int | float):  # a scalar stands for a phrase
                continue
            pattern = rf"(?<![a-z0-9]){re.escape(phrase.lower())}(?![a-z0-9])"
            for m in re.finditer(pattern, text.low):
                if text.free(m.start(), m.end()) and not any(
                    s < m.end() and m.start() < e for s, e, _ in hits
                ):
                    hits.append((m.start(), m.end(), value))
        hits.sort(key=lambda h: h[0])
        # a single value takes the first phrase only: the next may be another argument's
        for start, end, _value in hits if arg.type == "array" else hits[:1]:
            text.claim(start, end)
        values = [v for _, _, v in hits]
        if values:
            found[arg.name] = list(dict.fromkeys(values)) if arg.type == "array" else values[0]


_QUOTED = re.compile(r"""(?<!\w)(['"‘“])([^'"‘’“”\n]{1,80})['"’”](?!\w)""")


def _fill_shaped(
    text: _Text,
    args: Sequence[ArgSpec],
    found: dict[str, ArgValue],
    hints: Mapping[str, ArgumentHint],
    dates: Sequence[str],
) -> None:
    """A free string argument with a known shape takes a span of the request with that shape.

    A quoted span of the shape comes first (users quote titles and names); then,
    for shapes whose spans are telling (dates, places, codes...), the first free
    span of the shape. ``dates``: the request's dates as ISO (found first, so
    their spans are taken).
    """
    for arg in args:
        hint = hints.get(arg.name)
        shape = BY_PATTERN.get(hint.shape) if hint is not None and hint.shape else None
        if arg.name in found or arg.type not in ("str", "any"):
            continue
        if shape is None:
            if hint is not None and hint.suffix:
                _fill_suffixed(text, arg.name, hint.suffix, None, found)
            continue
        quoted = [
            m
            for m in _QUOTED.finditer(text.raw)
            if text.free(m.start(), m.end()) and shape.fits(m.group(2).strip())
        ]
        if quoted:
            found[arg.name] = quoted[0].group(2).strip()
            text.claim(quoted[0].start(), quoted[0].end())
        elif shape is BY_NAME["iso_date"]:
            if dates:
                found[arg.name] = dates[0]
        elif shape is BY_NAME["slash_date"]:
            if dates:
                found[arg.name] = as_slash(dates[0])
        elif shape.spans:
            finder = re.compile(rf"(?<![\w@/.-]){shape.pattern}(?![\w@/-])")
            for m in finder.finditer(text.raw):
                if text.free(m.start(), m.end()):
                    found[arg.name] = m.group(0)
                    text.claim(m.start(), m.end())
                    break
            if arg.name not in found and hint is not None and hint.suffix:
                _fill_suffixed(text, arg.name, hint.suffix, shape.compiled, found)


def _fill_suffixed(
    text: _Text,
    name: str,
    suffix: str,
    shape: re.Pattern[str] | None,
    found: dict[str, ArgValue],
) -> None:
    """The first free name the request writes, with the learned suffix, if that has the
    argument's shape (where one is known)."""
    for head in name_heads(text.raw):
        for m in re.finditer(rf"(?<!\w){re.escape(head)}(?!\w)", text.raw):
            if text.free(m.start(), m.end()) and (shape is None or shape.fullmatch(head + suffix)):
                found[name] = head + suffix
                text.claim(m.start(), m.end())
                return


def _fill_numbers(
    text: _Text, args: Sequence[ArgSpec], found: dict[str, ArgValue], weak: Collection[str] = ()
) -> None:
    """Give each numeric arg the number whose unit / cue words fit it best.

    ``weak`` arguments (optionals calls usually leave out) take a number only by its
    unit or cue word, never as the first free number.
    """
    numbers = [
        (m.start(), m.end(), m.group(1))
        for m in _NUMBER.finditer(text.raw)
        if text.free(m.start(), m.end())
    ]
    pairs = []
    for i, (start, end, _literal) in enumerate(numbers):
        for arg in args:
            score = _number_score(text, start, end, arg.name)
            if score > 0:
                pairs.append((-score, start, arg.name, i))
    taken: set[int] = set()
    for _neg, _start, name, i in sorted(pairs):
        if name not in found and i not in taken:
            found[name] = _literal_value(numbers[i][2], _arg_type(args, name))
            taken.add(i)
    # no cue at all (e.g. "female, 67, creatinine 1.2"): first number of the right type
    for arg in args:
        if arg.name in found or arg.name in weak:
            continue
        for i, (_s, _e, literal) in enumerate(numbers):
            if i not in taken and (arg.type == "float" or "." not in literal):
                found[arg.name] = _literal_value(literal, arg.type)
                taken.add(i)
                break


def _arg_type(args: Sequence[ArgSpec], name: str) -> str:
    return next(a.type for a in args if a.name == name)


def _literal_value(literal: str, arg_type: str) -> ArgValue:
    if arg_type == "int":
        return int(float(literal))
    return float(literal)
