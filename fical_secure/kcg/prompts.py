"""Prompts of knowledge-compendium generation, written for a weak (135M) model.

Each prompt asks ONE short question about ONE tool, shows a few examples
compactly (request -> rendered call) and ends with the opening the answer must
start with: a 135M model copies example answers verbatim, even ones about a
made-up tool, but continues a given opening. Examples come first and the
question last, so the prompts of one batch share a prefix. Before the model
sees an example, long digit runs and e-mail addresses are masked: data
minimization, and nothing to copy into a note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fical_secure.data.schema import Episode

MAX_REQUEST_CHARS = 110  # the weak model needs short prompts; the request's intent comes first

_DIGIT_RUN = re.compile(r"\d{3,}")
_FIRST_SENTENCE = re.compile(r"(?<=[.?!])\s+(?=[A-Z])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class KindPrompt:
    """The question for one entry kind and the opening of the expected answer."""

    question: str  # formatted with {tool}
    opening: str  # formatted with {tool}


# The opening the answer must start with: a weak model copies an example answer
# (even one about a made-up tool), but reliably continues a given opening.
KIND_PROMPTS: dict[str, KindPrompt] = {
    "purpose": KindPrompt("In one sentence, what is {tool} used for?", "{tool} is used to"),
    "arguments": KindPrompt(
        "In one sentence, what arguments does {tool} need and in what format?", "{tool} needs"
    ),
    "usage": KindPrompt(
        "In one sentence, which user requests should be answered with {tool}?",
        "Use {tool} for requests that",
    ),
    "pitfall": KindPrompt(
        "In one sentence, what must be checked before calling {tool}?",
        "Before calling {tool}, make sure",
    ),
}

REDUCE_TOPICS: dict[str, str] = {
    "purpose": "what the tool is used for",
    "arguments": "the arguments of the tool",
    "usage": "when to call the tool",
    "pitfall": "a mistake to avoid with the tool",
}


def mask_values(text: str) -> str:
    """Mask digit runs (ids, dates, phone numbers) and e-mail addresses in ``text``."""
    return _DIGIT_RUN.sub(lambda m: "#" * len(m.group()), _EMAIL.sub("<email>", text))


def render_example(episode: Episode) -> str:
    """One compact, masked line: the request's first sentence and the call that served it."""
    request = " ".join(episode.request.split())
    request = _FIRST_SENTENCE.split(request, maxsplit=1)[0]
    if len(request) > MAX_REQUEST_CHARS:
        request = request[:MAX_REQUEST_CHARS].rsplit(" ", 1)[0] + " ..."
    return mask_values(f"{request} -> {episode.call.render()}")


def map_prompt(tool: str, episodes: Sequence[Episode], kind: str) -> str:
    """The map-stage question about ``kind`` for one batch of ``tool``'s episodes."""
    spec = KIND_PROMPTS[kind]
    lines = [f"Tool: {tool}", "Examples of requests and the call made:"]
    lines += [f"{i}. {render_example(e)}" for i, e in enumerate(episodes, 1)]
    lines += ["", spec.question.format(tool=tool), answer_instruction(tool, kind)]
    return "\n".join(lines)


def reduce_prompt(tool: str, kind: str, notes: Sequence[str]) -> str:
    """The reduce-stage request: merge per-batch notes about one kind into one sentence."""
    lines = [f"Notes about the tool {tool}:"]
    lines += [f"- {note}" for note in notes]
    lines += [
        "",
        f"Combine these notes into one sentence about {REDUCE_TOPICS[kind]}.",
        answer_instruction(tool, kind),
    ]
    return "\n".join(lines)


def answer_instruction(tool: str, kind: str) -> str:
    """The line that tells the model how its one sentence must begin."""
    return f'Start your sentence with "{KIND_PROMPTS[kind].opening.format(tool=tool)}".'


def scoring_context(tool: str, kind: str) -> str:
    """A short raw context used to rank candidate notes when a merge fails."""
    return KIND_PROMPTS[kind].question.format(tool=tool) + "\nAnswer: "
