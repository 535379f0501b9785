"""Typed records of the federated clinical tool-use corpus.

An *episode* is one private tool-use example of a hospital: a user request, the
tool call the agent made, the tool's result and the final answer. Episodes
carry PII; the ground truth of every planted value lives in :class:`PIIValue`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from fical_secure.jsontypes import JsonObject

ArgType = Literal["str", "int", "float", "date", "enum", "bool", "array", "object", "any"]
ARG_TYPES: tuple[str, ...] = (
    "str",
    "int",
    "float",
    "date",
    "enum",
    "bool",
    "array",
    "object",
    "any",
)
# A JSON value: what a call argument may hold once its tool's JSON Schema allows it.
ArgValue = str | int | float | bool | None | list["ArgValue"] | dict[str, "ArgValue"]
# Tool names as OpenAI, MCP and BFCL write them: namespaced with '.', '-' or '_'.
TOOL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
Split = Literal["member", "nonmember"]
# A client (hospital) id: a file name, a log field and a wire field; federation ids too.
CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
CLIENT_ID_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_client_id(value: object) -> bool:
    """Whether ``value`` is a client id (:data:`CLIENT_ID`): the one rule, written once."""
    return isinstance(value, str) and CLIENT_ID.fullmatch(value) is not None


# PII kinds the generator plants (also the scrubber's must-catch list).
PII_KINDS: tuple[str, ...] = (
    "PERSON",
    "MRN",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "STREET_ADDRESS",
    "DATE_OF_BIRTH",
    "US_SSN",
    "INSURANCE_ID",
    "CANARY",
)


def leaves(value: ArgValue) -> Iterator[str | int | float | bool | None]:
    """The scalars inside a (possibly nested) argument value, in document order."""
    if isinstance(value, list):
        for item in value:
            yield from leaves(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    else:
        yield value


@dataclass(frozen=True)
class ArgSpec:
    """One argument of a tool: its name, type and (for enums) allowed values.

    ``choices`` of an ``int`` argument are its allowed values written as
    strings (a JSON Schema integer enum); ``minimum`` / ``maximum`` bound
    numbers inclusively; an argument that is not ``required`` may be left out.
    An ``array`` argument describes its elements in ``items``, an ``object``
    its named members in ``fields``; ``any`` is a value the schema leaves
    open (no type, a union, ``anyOf``). The tool's JSON Schema, not this
    summary, decides whether a value is valid.
    """

    name: str
    type: ArgType
    description: str
    choices: tuple[str, ...] = ()
    pattern: str | None = None  # regex the value must match, for ids like MRNs
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    items: ArgSpec | None = None
    fields: tuple[ArgSpec, ...] = ()

    def walk(self) -> Iterator[ArgSpec]:
        """This argument and every argument nested in it (array items, object fields)."""
        yield self
        if self.items is not None:
            yield from self.items.walk()
        for member in self.fields:
            yield from member.walk()


@dataclass(frozen=True)
class ToolSpec:
    """A tool of the catalogue.

    ``parameters_json`` is the JSON text of the tool's parameters JSON
    Schema where it says more than ``args`` can (nested items, defaults,
    ``anyOf``...); empty when ``args`` say it all (the built-in tools).
    """

    name: str
    description: str
    args: tuple[ArgSpec, ...]
    returns: str
    parameters_json: str = ""

    def arg(self, name: str) -> ArgSpec:
        for spec in self.args:
            if spec.name == name:
                return spec
        raise KeyError(name)


@dataclass(frozen=True)
class ToolCall:
    """A call of a catalogue tool with concrete arguments."""

    tool: str
    arguments: dict[str, ArgValue]

    def render(self) -> str:
        """Canonical text form, e.g. ``lab_results_lookup(mrn="MRN-1234567", test="CBC")``."""
        parts = [f"{k}={json.dumps(v)}" for k, v in sorted(self.arguments.items())]
        return f"{self.tool}({', '.join(parts)})"


@dataclass(frozen=True)
class PIIValue:
    """Ground truth of one planted PII value (or canary) in one episode."""

    kind: str
    value: str
    episode_id: str


@dataclass(frozen=True)
class Episode:
    """One private tool-use example of a hospital.

    ``subject`` optionally names the patient the episode is about (any stable
    pseudonymous key); KCG counts an alias's support in distinct subjects.
    """

    episode_id: str
    hospital_id: str
    request: str
    call: ToolCall
    result: str
    answer: str
    split: Split
    pii: tuple[PIIValue, ...] = ()
    subject: str = ""

    def text(self) -> str:
        """The whole episode as one text (what a sample-sharing FL baseline would send)."""
        return (
            f"User: {self.request}\nCall: {self.call.render()}\n"
            f"Result: {self.result}\nAnswer: {self.answer}"
        )

    def to_json(self) -> JsonObject:
        return asdict(self)


@dataclass(frozen=True)
class EvalRequest:
    """A held-out request with its gold tool call (for TLU metrics).

    ``hospital_id`` names the client whose staff asked (empty: nobody in
    particular); ``needs`` says which knowledge the request calls for:
    ``docs`` (the tool documentation suffices), ``local`` (the asking
    hospital's own examples show it), ``elsewhere`` (only other hospitals'
    examples show it), or empty when unknown. ``candidates`` are the tools
    the request's source offered with it (BFCL's functions of the request;
    empty: the whole catalogue); ``answer`` maps each parameter to every value
    the source accepts for it, ``""`` meaning it may be omitted (BFCL's
    possible answer; ``None``: exactly ``gold``'s arguments).
    """

    request_id: str
    request: str
    gold: ToolCall
    hospital_id: str = ""
    needs: str = ""
    candidates: tuple[str, ...] = ()
    answer: dict[str, list[Any]] | None = None


@dataclass
class HospitalData:
    """One client's private data: its tool subset and member / non-member splits."""

    hospital_id: str
    name: str
    tools: tuple[str, ...]
    members: list[Episode] = field(default_factory=list)
    nonmembers: list[Episode] = field(default_factory=list)


@dataclass
class Federation:
    """The whole synthetic federation: hospitals, catalogue, evaluation set, PII manifest."""

    seed: int
    catalogue: tuple[ToolSpec, ...]
    hospitals: list[HospitalData]
    eval_requests: list[EvalRequest]
    manifest: list[PIIValue]

    def tool(self, name: str) -> ToolSpec:
        for spec in self.catalogue:
            if spec.name == name:
                return spec
        raise KeyError(name)
