"""Synthetic sharing (FedPIT, arXiv 2403.06131): the local model writes new examples to share.

FedPIT has each client's LLM write new task examples in context from a few of
its own private ones, and trains on those instead of the private data. Here
the in-context analogue is shared: the generated examples are sent as
demonstrations in place of the member episodes. Each example is written from
its own few-shot prompt: an *anchor* member episode plus other members (of the
anchor's tool where the client has them), drawn with a seeded generator, so
the shots vary from example to example and a run is reproducible. The
example keeps the anchor's tool (for the utility figure). Every client runs
the same local model here, so their prompts share one batched call.

Nothing is scrubbed or filtered: what the model writes is what is shared, so
whatever it copies from its shots (a name, an MRN) is measured by the
attacks. Cost is bounded by ``max_examples`` per client and
``max_new_tokens`` per example (greedy decoding on CPU).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fical_secure.audit.artefact import SharedArtefact
from fical_secure.config.ids import ClientId
from fical_secure.data.schema import Episode
from fical_secure.errors import ConfigError
from fical_secure.llm.base import LLM

PROMPT = (
    "Here are tool-use records of a hospital's clinical assistant:\n\n{shots}\n\n"
    "Write one new record in exactly the same format (User, Call, Result, Answer) "
    "for a different patient and a different request. Write only the record."
)


@dataclass(frozen=True)
class SyntheticConfig:
    """How many examples a client writes, from how many shots, at what length."""

    max_examples: int = 8  # per client; at most one per member episode (its anchor)
    shots: int = 2  # member episodes in each prompt, the anchor included
    max_new_tokens: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_examples < 1 or self.shots < 1 or self.max_new_tokens < 1:
            raise ConfigError("max_examples, shots and max_new_tokens must be >= 1")


@dataclass(frozen=True)
class SyntheticExample:
    """One generated example: its prompt's shots (by episode id) and what the model wrote."""

    anchor: Episode
    shots: tuple[str, ...]  # episode ids, the anchor last
    prompt: str
    text: str


def few_shot_prompts(
    client_id: ClientId, members: Sequence[Episode], config: SyntheticConfig
) -> list[tuple[Episode, tuple[Episode, ...], str]]:
    """(anchor, shots, prompt) per example to write, drawn from ``members`` with a seeded RNG.

    Anchors are distinct members; the other shots prefer the anchor's tool.
    """
    rng = random.Random(f"synthetic:{config.seed}:{client_id}")
    ordered = sorted(members, key=lambda e: e.episode_id)
    anchors = rng.sample(ordered, min(len(ordered), config.max_examples))
    out = []
    for anchor in anchors:
        same = [e for e in ordered if e is not anchor and e.call.tool == anchor.call.tool]
        rest = [e for e in ordered if e is not anchor and e.call.tool != anchor.call.tool]
        rng.shuffle(same)
        rng.shuffle(rest)
        shots = (*(same + rest)[: config.shots - 1], anchor)
        body = "\n\n".join(f"Record {i}:\n{e.text()}" for i, e in enumerate(shots, start=1))
        out.append((anchor, shots, PROMPT.format(shots=body)))
    return out


def clean_output(output: str) -> str:
    """The first record the model wrote: from its first ``User:`` line to the next one.

    A preamble ("Here is a new record:") is dropped; an output without any
    ``User:`` line is kept whole, since that is what the model wrote.
    """
    text = output.strip()
    start = text.find("User:")
    if start < 0:
        return text
    text = text[start:]
    after = text.find("\nUser:", len("User:"))
    end = text.find("\nRecord ", len("User:"))
    cuts = [c for c in (after, end) if c >= 0]
    return (text[: min(cuts)] if cuts else text).strip()


def synthetic_examples(
    clients: Mapping[str, Sequence[Episode]], llm: LLM, config: SyntheticConfig
) -> dict[str, list[SyntheticExample]]:
    """Client -> the examples its local model writes from its members (``clients``).

    Every client's prompts go to the model in one batched call (decoding steps
    are what costs on CPU); each prompt holds only its own client's members.
    Empty outputs are dropped (nothing to share).

    Raises:
        GenerationError: the model failed.
    """
    plan = {cid: few_shot_prompts(cid, members, config) for cid, members in clients.items()}
    prompts = [p for rows in plan.values() for _, _, p in rows]
    outputs = llm.generate(prompts, max_new_tokens=config.max_new_tokens) if prompts else []
    written = iter(outputs)
    out: dict[str, list[SyntheticExample]] = {}
    for cid, rows in plan.items():
        out[cid] = []
        for anchor, shots, prompt in rows:
            text = clean_output(next(written))
            if text:
                out[cid].append(
                    SyntheticExample(anchor, tuple(e.episode_id for e in shots), prompt, text)
                )
    return out


def synthetic_artefact(client_id: ClientId, examples: Sequence[SyntheticExample]) -> SharedArtefact:
    """The shared artefact: one item per generated example, ids that name no episode."""
    return SharedArtefact(
        "samples",
        client_id,
        tuple(f"{client_id}-synthetic-{i:03d}" for i in range(len(examples))),
        tuple(e.text for e in examples),
    )
