"""Argument knowledge the agent may apply when it fills a tool's arguments.

A compendium's argument claims (what real call logs teach about one tool
argument, each shown by at least k distinct subjects) are read into one
:class:`ArgumentHint` per (tool, argument path). The KCG side writes and
re-verifies the claims; the agent side (rule filler and the LLM's
schema-constrained filler) uses the hints as candidate values and checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ArgumentHint:
    """What the released knowledge says about one argument of one tool.

    ``usual_value``: the JSON value calls used when the request names none
    (a default or a constant), ``None`` when no such claim was released;
    ``omitted``: an optional argument calls usually leave out; ``shape``: a
    regular expression every supporting value matched (``None`` if unknown),
    with ``shape_text`` its plain-words reading ("a date as YYYY-MM-DD");
    ``normalisations``: lower-case request phrase -> the JSON value calls
    wrote for it ("nyc" -> "New York, NY").
    """

    tool: str
    argument: str
    usual_value: Any = None
    omitted: bool = False
    shape: str | None = None
    shape_text: str | None = None
    normalisations: Mapping[str, Any] = field(default_factory=dict)


HintBook = Mapping[str, Mapping[str, ArgumentHint]]
"""tool name -> argument path (dotted for nested members) -> hint."""
