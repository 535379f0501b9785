"""Argument fillers: the rules alone, or the model decoding under the tool's schema.

:class:`RuleFiller` extracts values by rule (:mod:`fical_secure.tlu.args`): fast,
exact on ids, dates, enums and numbers, blind to free text.
:class:`SchemaFiller` keeps the rules' values for the closed kinds (enums,
patterned ids, dates) and for arguments a released normalisation settles (the
request writes a phrase the compendium maps to the value the rules took), and
has the model decode the rest as JSON constrained to the tool's schema
narrowed to the request's candidates (:mod:`fical_secure.tlu.decoding_schema`),
with the tool's docs and the retrieved compendium entries in its prompt; every
call is validated against the tool's own schema, and an invalid one falls back
to the rules' fill. A patterned identifier (a pattern asking for digits, such as
an MRN) whose digits the request does not write is dropped from the model's
call and left missing (:func:`invented_identifiers`): the model writes a
well-formed MRN where the request gives none, and a made-up identifier acts on
another patient. A tool whose arguments, optional ones included, are all of
closed or numeric kinds, and whose required ones the rules settle, takes the
rules' fill without a model call, and so does a job whose narrowed schema
leaves nothing to decode (every member pinned, or none with evidence).
Decoding is greedy, so a job whose prompt and narrowed schema were decoded
before (the same request under another ablation condition) takes the earlier
output instead of a second decode. :meth:`SchemaFiller.batched` gathers the
model's jobs of many fill calls (every condition of an ablation) into one
batched decode: fewer, fuller batches than one decode per call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from fical_secure.data.arg_schema import call_schema, parameters_schema
from fical_secure.data.json_schema import argument_problems
from fical_secure.data.schema import ArgSpec, ArgValue, ToolSpec
from fical_secure.llm.base import JsonLLM
from fical_secure.tlu.args import ArgFill, fill_arguments
from fical_secure.tlu.decoding_schema import RequestValues, object_schema
from fical_secure.tlu.hints import ArgumentHint, default_year, hints_for
from fical_secure.tlu.knowledge import Knowledge

DOC_CHARS = 240
ARG_DOC_CHARS = 120
MAX_NOTES = 3
MAX_NEW_TOKENS = 160


@dataclass(frozen=True)
class FillJob:
    """One request, the tool chosen for it, and the retrieved notes about that tool."""

    request: str
    spec: ToolSpec
    notes: tuple[str, ...] = ()


class ArgumentFiller(Protocol):
    """Fills the chosen tools' arguments for a batch of requests."""

    def fill(self, jobs: Sequence[FillJob], knowledge: Knowledge) -> list[ArgFill]:
        """One :class:`ArgFill` per job, in order."""
        ...


@dataclass(frozen=True)
class RuleFiller:
    """Rule-based extraction with the knowledge's aliases and argument hints (no model)."""

    def fill(self, jobs: Sequence[FillJob], knowledge: Knowledge) -> list[ArgFill]:
        year = default_year(knowledge.arguments)
        return [
            fill_arguments(
                j.request,
                j.spec,
                aliases=knowledge.aliases,
                hints=hints_for(knowledge.arguments, j.spec),
                year=year,
            )
            for j in jobs
        ]


def _closed(arg: ArgSpec) -> bool:
    """A kind the rules settle as reliably as any model: enums, patterned ids, dates."""
    if arg.type == "array":
        return arg.items is not None and arg.items.type == "enum"
    return arg.type in ("enum", "date") or (arg.type == "str" and arg.pattern is not None)


def _normalised(request: str, hint: ArgumentHint | None, value: ArgValue) -> bool:
    """The request writes a phrase the released knowledge normalises to ``value``."""
    if hint is None:
        return False
    low = request.lower()
    return any(
        v == value and re.search(rf"(?<![a-z0-9]){re.escape(p.lower())}(?![a-z0-9])", low)
        for p, v in hint.normalisations.items()
    )


def _pinned(job: FillJob, rule: ArgFill, hints: Mapping[str, ArgumentHint]) -> dict[str, ArgValue]:
    """The rules' values the model does not revisit: closed kinds, and phrases the tool's
    own hints normalise (``hints``: the tool's own, not those other tools' calls lend it:
    "los angeles" learned for a destination says nothing about which argument of another
    tool the city fills)."""
    return {
        a.name: rule.arguments[a.name]
        for a in job.spec.args
        if a.name in rule.arguments
        and (_closed(a) or _normalised(job.request, hints.get(a.name), rule.arguments[a.name]))
    }


def _fast(spec: ToolSpec, rule: ArgFill) -> bool:
    """Every argument, optional ones included, is of a kind the rules settle, and they did."""
    return rule.complete and all(_closed(a) or a.type in ("int", "float") for a in spec.args)


@dataclass
class SchemaFiller:
    """The model fills what the rules cannot, decoding under the narrowed schema."""

    llm: JsonLLM
    max_new_tokens: int = MAX_NEW_TOKENS
    evidence_required: bool = True  # optional arguments with evidence must be decoded
    rules: RuleFiller = field(default_factory=RuleFiller)
    model_calls: int = 0  # jobs the model filled (memo hits included)
    invalid: int = 0
    memo_hits: int = 0  # jobs whose (prompt, schema) was decoded before: no new decode
    memoise: bool = True
    _decoded: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    # (prompt, schema) pairs fill() would decode, recorded inside batched(); None outside
    _planned: dict[tuple[str, str], None] | None = field(default=None, repr=False)
    _prefetched: set[tuple[str, str]] = field(default_factory=set, repr=False)

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Record the model's jobs of every :meth:`fill` inside, then decode them at once.

        Inside, ``fill`` returns the rules' fills and records each (prompt, schema)
        it would decode; on leaving (without an exception), every recorded pair not
        decoded before is decoded in one batched call into the memory, so the same
        fills run again afterwards take their outputs from it, counted as the model
        calls they are (a pair decodes to the same text whatever shares its batch, up
        to float rounding, as for the memory itself).

        Raises:
            ValueError: ``memoise`` is off (nothing would keep the outputs).
            GenerationError: the model failed on the batched decode.
        """
        if not self.memoise:
            raise ValueError("batched() needs memoise=True: the memory keeps the outputs")
        self._planned = {}
        try:
            yield
            new = [k for k in self._planned if k not in self._decoded]
        finally:
            self._planned = None
        if new:
            self._decode([p for p, _ in new], [s for _, s in new])  # into the memory
            self._prefetched.update(new)

    def fill(self, jobs: Sequence[FillJob], knowledge: Knowledge) -> list[ArgFill]:
        """Rules first; the model for the rest, in one batched constrained call.

        Raises:
            GenerationError: the model failed (xgrammar missing, backend error).
        """
        rules = self.rules.fill(jobs, knowledge)
        todo, prompts, schemas, pins = [], [], [], []
        year = default_year(knowledge.arguments)
        for i, (job, rule) in enumerate(zip(jobs, rules, strict=True)):
            if _fast(job.spec, rule):
                continue
            hints = hints_for(knowledge.arguments, job.spec)
            pinned = _pinned(job, rule, knowledge.arguments.get(job.spec.name, {}))
            schema = object_schema(
                parameters_schema(job.spec),
                RequestValues.of(job.request, year),
                hints,
                pinned=pinned,
                evidence_required=self.evidence_required,
            )
            if not schema["properties"]:
                continue  # nothing left to decode: the rules' fill stands
            todo.append(i)
            prompts.append(prompt(job, schema))
            schemas.append(json.dumps(schema))
            pins.append(pinned)
        if self._planned is not None:  # inside batched(): record, decode on leaving
            self._planned.update(dict.fromkeys(zip(prompts, schemas, strict=True)))
            return rules
        texts = self._decode(prompts, schemas)
        self.model_calls += len(todo)
        out = list(rules)
        for i, text, pinned in zip(todo, texts, pins, strict=True):
            decoded = _checked(jobs[i].spec, text, pinned)
            if decoded is None:
                self.invalid += 1
            else:
                out[i] = _without_invented(jobs[i], decoded, pinned)
        return out

    def _decode(self, prompts: list[str], schemas: list[str]) -> list[str]:
        """The constrained output of every (prompt, schema); with ``memoise`` each distinct
        pair is decoded once per filler (greedy decoding: a pair decodes to the same text
        whatever else shares its batch, up to float rounding)."""
        if not prompts:
            return []
        if not self.memoise:
            return self.llm.generate_json(prompts, schemas, max_new_tokens=self.max_new_tokens)
        keys = list(zip(prompts, schemas, strict=True))
        new = [k for k in dict.fromkeys(keys) if k not in self._decoded]
        first = set(keys) & self._prefetched  # decoded ahead by batched(), not before
        self._prefetched -= first
        self.memo_hits += len(keys) - len(new) - len(first)
        if new:
            texts = self.llm.generate_json(
                [p for p, _ in new], [s for _, s in new], max_new_tokens=self.max_new_tokens
            )
            self._decoded.update(zip(new, texts, strict=True))
        return [self._decoded[k] for k in keys]


# a pattern that asks for digits: an identifier (MRN, member id), never a word the model knows
_ASKS_DIGITS = re.compile(r"\\d|\[[^\]]*0-9[^\]]*\]")
_DIGIT_RUN = re.compile(r"\d{2,}")
INVENTED = "an identifier the request does not write is never invented"


def _written_digits(request: str) -> list[str]:
    """The request's digit runs, one separator between digits closed up (``303-2006``)."""
    return re.findall(r"\d+", re.sub(r"(?<=\d)[\s./-](?=\d)", "", request))


def invented_identifiers(
    spec: ToolSpec, arguments: Mapping[str, ArgValue], request: str
) -> list[str]:
    """Patterned arguments asking for digits whose digits the request does not write.

    The model writes a value its pattern accepts even where the request gives
    none (``MRN-1234567`` for a request with no MRN): a made-up identifier that
    would act on another patient. A value whose digit runs all appear in the
    request (``mrn 3032006`` written as ``MRN-3032006``) is the request's own.
    """
    written = _written_digits(request)
    return [
        a.name
        for a in spec.args
        if a.pattern is not None
        and _ASKS_DIGITS.search(a.pattern)
        and isinstance(value := arguments.get(a.name), str)
        and any(not any(run in w for w in written) for run in _DIGIT_RUN.findall(value))
    ]


def _without_invented(
    job: FillJob, decoded: dict[str, ArgValue], pinned: Mapping[str, ArgValue]
) -> ArgFill:
    """The decoded call less the identifiers the model made up, left missing if required."""
    invented = [n for n in invented_identifiers(job.spec, decoded, job.request) if n not in pinned]
    if not invented:
        return ArgFill(decoded, ())
    required = {a.name for a in job.spec.args if a.required}
    return ArgFill(
        {k: v for k, v in decoded.items() if k not in invented},
        tuple(n for n in invented if n in required),
        {n: INVENTED for n in invented},
    )


def _checked(spec: ToolSpec, text: str, pinned: dict[str, ArgValue]) -> dict[str, ArgValue] | None:
    """The decoded arguments merged with the pinned ones, if the tool's schema accepts them."""
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError:
        return None  # cut off by max_new_tokens
    if not isinstance(decoded, dict):
        return None
    merged: dict[str, ArgValue] = {**decoded, **pinned}
    ordered = {a.name: merged[a.name] for a in spec.args if a.name in merged}
    ordered.update({k: v for k, v in merged.items() if k not in ordered})
    if argument_problems(spec.name, call_schema(spec), ordered):
        return None
    return ordered


def prompt(job: FillJob, schema: dict[str, Any]) -> str:
    """The user turn: the tool's docs for the members to decode, the notes, the request."""
    spec = job.spec
    lines = [f"Tool {spec.name}: {spec.description[:DOC_CHARS]}"]
    wanted = schema.get("properties", {})
    docs = {a.name: a.description for a in spec.args}
    if wanted:
        lines.append("Arguments:")
        lines += [f"- {name}: {docs.get(name, '')[:ARG_DOC_CHARS]}" for name in wanted]
    notes = [n for n in job.notes if n][:MAX_NOTES]
    if notes:
        lines.append("Notes:")
        lines += [f"- {n[:DOC_CHARS]}" for n in notes]
    lines.append(f"Request: {job.request}")
    lines.append(f"Write the JSON arguments of the {spec.name} call for this request.")
    return "\n".join(lines)
