"""Knowledge-compendium generation (KCG): map over batches of episodes, reduce per tool.

Map: episodes are grouped by tool and split into batches; for every batch and
entry kind the model answers one short question. Reduce: the valid notes of a
(tool, kind) are merged by the model into one sentence; when the merge is
invalid, the candidate note the model scores highest is kept instead. Every
stage sends its prompts to ``LLM.generate`` in large batched calls. Signatures
(and a templated "arguments" entry) are induced from the calls directly.
"""

from __future__ import annotations

import math
import resource
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fical_secure.data.schema import Episode
from fical_secure.errors import SchemaError
from fical_secure.kcg import prompts
from fical_secure.kcg.repair import RepairLog, name_words, repair_note
from fical_secure.kcg.schema import ENTRY_KINDS, Compendium, Entry, validate_entry
from fical_secure.kcg.signatures import arguments_entry, induce_signatures, record_values
from fical_secure.llm.base import LLM

PROMPT_VERSION = 1
Key = tuple[str, str]  # (tool, kind)


@dataclass(frozen=True)
class KCGConfig:
    """Knobs of one KCG run (the defaults fit the 135M model's CPU time budget)."""

    batch_size: int = 5
    kinds: tuple[str, ...] = ENTRY_KINDS
    # kinds written from the data alone, not asked of the model: the 135M model's
    # "arguments" notes were vague ("needs a format that allows easy retrieval")
    # while the induced names, types and frequent enum values are exact
    templated_kinds: tuple[str, ...] = ("arguments",)
    max_batches_per_tool: int | None = 3  # bounds time on a tool that dominates the data
    map_max_new_tokens: int = 32
    reduce_max_new_tokens: int = 40
    prompts_per_call: int = 32  # prompts per generate() call; 0 = one call per stage
    min_value_support: int = 2

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.prompts_per_call < 0:
            raise ValueError("batch_size must be >= 1 and prompts_per_call >= 0")
        unknown = (set(self.kinds) | set(self.templated_kinds)) - set(ENTRY_KINDS)
        if unknown or not self.kinds or set(self.templated_kinds) - {"arguments"}:
            raise ValueError(
                f"kinds must be a non-empty subset of {ENTRY_KINDS}; only 'arguments' "
                "can be templated"
            )

    @property
    def model_kinds(self) -> tuple[str, ...]:
        """The kinds the model is asked about."""
        return tuple(k for k in self.kinds if k not in self.templated_kinds)


@dataclass
class KCGStats:
    """What one run cost: wall and CPU seconds, model calls and tokens."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    map_prompts: int = 0
    reduce_prompts: int = 0
    scored_candidates: int = 0
    prompt_tokens: int = 0
    new_tokens: int = 0

    @property
    def new_tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class KCGResult:
    compendium: Compendium
    stats: KCGStats


@dataclass
class _Run:
    """Mutable state of one run, shared by its stages."""

    llm: LLM
    config: KCGConfig
    bar: Any
    log: RepairLog = field(default_factory=RepairLog)
    reduce_counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    stats: KCGStats = field(default_factory=KCGStats)


def split_batches(
    episodes: Sequence[Episode], size: int, max_batches: int | None
) -> list[list[Episode]]:
    """Near-equal batches of at most ``size`` episodes (first ``max_batches * size`` kept)."""
    if max_batches is not None:
        episodes = episodes[: max_batches * size]
    n = math.ceil(len(episodes) / size) if episodes else 0
    return [list(episodes[i::n]) for i in range(n)] if n else []


def build_compendium(
    episodes: Sequence[Episode],
    llm: LLM,
    *,
    client_id: str,
    batch_size: int = 5,
    kinds: Sequence[str] = ENTRY_KINDS,
    progress: bool = True,
) -> Compendium:
    """Turn one client's episodes into its knowledge compendium (see :func:`run_kcg`).

    Raises:
        GenerationError: the model failed.
        SchemaError: no episodes, or an invalid tool name in the data.
    """
    config = KCGConfig(batch_size=batch_size, kinds=tuple(kinds))
    return run_kcg(episodes, llm, client_id=client_id, config=config, progress=progress).compendium


def run_kcg(
    episodes: Sequence[Episode],
    llm: LLM,
    *,
    client_id: str,
    config: KCGConfig | None = None,
    progress: bool = True,
) -> KCGResult:
    """Map-reduce KCG over ``episodes``; returns the compendium and what it cost.

    Raises:
        GenerationError: the model failed.
        SchemaError: no episodes, or an invalid tool name in the data.
    """
    from tqdm.auto import tqdm

    config = config or KCGConfig()
    if not episodes:
        raise SchemaError(f"client {client_id!r} has no episodes to build a compendium from")
    by_tool: dict[str, list[Episode]] = defaultdict(list)
    for episode in episodes:
        by_tool[episode.call.tool].append(episode)
    batches = {
        tool: split_batches(eps, config.batch_size, config.max_batches_per_tool)
        for tool, eps in sorted(by_tool.items())
    }
    n_batches = sum(len(b) for b in batches.values())
    started, cpu0 = time.perf_counter(), _cpu_seconds()
    usage0 = _usage(llm)
    with tqdm(total=n_batches, desc=f"KCG {client_id}", unit="batch", disable=not progress) as bar:
        run = _Run(llm, config, bar)
        notes = _map_stage(run, batches)
        entries = _reduce_stage(run, notes, by_tool)
    signatures = induce_signatures(episodes)
    if "arguments" in config.kinds and "arguments" in config.templated_kinds:
        entries += [
            e for s in signatures if (e := arguments_entry(s, episodes, config.min_value_support))
        ]
    stats = run.stats
    stats.seconds, stats.cpu_seconds = time.perf_counter() - started, _cpu_seconds() - cpu0
    usage1 = _usage(llm)
    stats.prompt_tokens, stats.new_tokens = usage1[0] - usage0[0], usage1[1] - usage0[1]
    meta = {
        "generator": "kcg",
        "prompt_version": PROMPT_VERSION,
        "model": llm.name,
        "n_episodes": len(episodes),
        "n_tools": len(by_tool),
        "n_batches": n_batches,
        "batch_size": config.batch_size,
        "kinds": list(config.kinds),
        "templated_kinds": [k for k in config.templated_kinds if k in config.kinds],
        "repair": run.log.as_dict(),
        "reduce": dict(sorted(run.reduce_counts.items())),
    }
    unique = tuple(dict.fromkeys(entries))
    return KCGResult(
        Compendium(owner=client_id, entries=unique, signatures=signatures, meta=meta), stats
    )


def _map_stage(run: _Run, batches: dict[str, list[list[Episode]]]) -> dict[Key, list[str]]:
    """Ask one question per (batch, kind); return the valid notes per (tool, kind)."""
    jobs: list[tuple[str, str, list[Episode], str]] = [
        (tool, kind, batch, prompts.map_prompt(tool, batch, kind))
        for tool, tool_batches in batches.items()
        for batch in tool_batches
        for kind in run.config.model_kinds
    ]
    per_step = len(run.config.model_kinds)
    outputs = _generate(run, [j[3] for j in jobs], run.config.map_max_new_tokens, per_step=per_step)
    run.stats.map_prompts += len(jobs)
    notes: dict[Key, list[str]] = defaultdict(list)
    for (tool, kind, batch, prompt), raw in zip(jobs, outputs, strict=True):
        opening = prompts.KIND_PROMPTS[kind].opening.format(tool=tool)
        note = repair_note(
            raw,
            prompt=prompt,
            example=opening,
            log=run.log,
            record_values=record_values(batch),
            names=_names(batch),
            tool=tool,
        )
        if note is not None and note not in notes[(tool, kind)]:
            notes[(tool, kind)].append(note)
    return notes


def _reduce_stage(
    run: _Run, notes: dict[Key, list[str]], by_tool: dict[str, list[Episode]]
) -> list[Entry]:
    """Merge each (tool, kind)'s notes into one entry; fall back to the best-scored note."""
    entries: list[Entry] = []
    merges: list[tuple[Key, str]] = []
    for key, candidates in sorted(notes.items()):
        if len(candidates) == 1:
            run.reduce_counts["single_note"] += 1
            entries.append(validate_entry(key[0], key[1], candidates[0]))
        elif candidates:
            merges.append((key, prompts.reduce_prompt(key[0], key[1], candidates)))
    outputs = _generate(run, [m[1] for m in merges], run.config.reduce_max_new_tokens, per_step=0)
    run.stats.reduce_prompts += len(merges)
    fallbacks: list[Key] = []
    for (key, prompt), raw in zip(merges, outputs, strict=True):
        opening = prompts.KIND_PROMPTS[key[1]].opening.format(tool=key[0])
        merged = repair_note(
            raw,
            prompt=prompt.rsplit("\n\n", 1)[-1],  # choosing one of the notes is no echo
            example=opening,
            log=run.log,
            record_values=record_values(by_tool[key[0]]),
            names=_names(by_tool[key[0]]),
            tool=key[0],
        )
        if merged is None:
            fallbacks.append(key)
        else:
            run.reduce_counts["merged"] += 1
            entries.append(validate_entry(key[0], key[1], merged))
    entries += _best_scored(run, fallbacks, notes)
    return entries


def _best_scored(run: _Run, keys: list[Key], notes: dict[Key, list[str]]) -> list[Entry]:
    """For each key, the candidate note with the highest mean log-prob (one score() call)."""
    pairs = [(key, note) for key in keys for note in notes[key]]
    if not pairs:
        return []
    contexts = [prompts.scoring_context(tool, kind) for (tool, kind), _ in pairs]
    scores = run.llm.score([note for _, note in pairs], contexts)
    run.stats.scored_candidates += len(pairs)
    best: dict[Key, tuple[float, str]] = {}
    for (key, note), values in zip(pairs, scores, strict=True):
        mean = float(values.mean()) if len(values) else -math.inf
        if key not in best or mean > best[key][0]:
            best[key] = (mean, note)
    run.reduce_counts["fallback_best_scored"] += len(best)
    return [validate_entry(tool, kind, note) for (tool, kind), (_, note) in sorted(best.items())]


def _generate(run: _Run, texts: list[str], max_new_tokens: int, *, per_step: int) -> list[str]:
    """Generate in calls of ``prompts_per_call``; advance the bar by batches covered."""
    size = run.config.prompts_per_call or max(len(texts), 1)
    if per_step:  # keep all kinds of one map batch in the same call
        size = max(per_step, size - size % per_step)
    out: list[str] = []
    for start in range(0, len(texts), size):
        chunk = texts[start : start + size]
        out += run.llm.generate(chunk, max_new_tokens=max_new_tokens)
        if per_step:
            run.bar.update(len(chunk) // per_step)
    return out


def _names(episodes: Sequence[Episode]) -> set[str]:
    """Title Case words of the episodes' requests that their calls do not use."""
    return name_words((e.request for e in episodes), " ".join(e.call.render() for e in episodes))


def _usage(llm: LLM) -> tuple[int, int]:
    usage = getattr(llm, "usage", None)
    return (int(getattr(usage, "prompt_tokens", 0)), int(getattr(usage, "new_tokens", 0)))


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime
