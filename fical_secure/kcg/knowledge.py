"""KCG that writes checkable knowledge: mined claims, phrased by the model, validated.

1. Mine: deterministic claims from the client's episodes, each supported by at
   least ``min_support`` distinct subjects and naming no known identifier:
   value aliases (:mod:`fical_secure.kcg.mining`), tool-selection cues
   (:mod:`fical_secure.kcg.cues`) and argument knowledge: shapes, usual
   values, omitted optionals, normalisations (:mod:`fical_secure.kcg.arguments`;
   subjects: :mod:`fical_secure.kcg.subjects`).
2. Validate: every claim is re-checked against all episodes; one contradicting
   episode, or fewer than ``min_support`` subjects showing it, drops the claim.
3. Phrase: the local model may paraphrase each alias claim's canonical sentence (one
   short prompt per claim, batched). A paraphrase is kept only if it states
   exactly the same claim (:func:`parse_claim`), carries no record value and
   is a valid entry; otherwise the canonical sentence is used. So the weak
   default model can only make an entry read better, never wrong, and a
   stronger model folder plugs in by configuration.

In DP mode (``KnowledgeConfig.dp``, from a profile's ``release.dp``), steps 1
and 2 are DP partition selection instead (:mod:`fical_secure.kcg.dp_select`),
over aliases and cues only: argument claims are not released in DP mode.

No entry is boilerplate: each states one phrase-to-value fact, the phrases
that point at one tool, or one fact about one argument, that its support
episodes show.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from fical_secure.aggregate.merge import TextEncoder
from fical_secure.data.schema import Episode, ToolSpec
from fical_secure.errors import ConfigError, SchemaError
from fical_secure.jsontypes import JsonObject
from fical_secure.kcg.arguments import ArgumentRules, mine_argument_claims
from fical_secure.kcg.argverify import verify_argument_claims
from fical_secure.kcg.claims import (
    ARGUMENT_CLAIMS,
    Claim,
    ToolCue,
    ValueAlias,
    claim_entry,
    parse_claim,
    render_claim,
)
from fical_secure.kcg.cues import CueRules, mine_cues, verify_cue
from fical_secure.kcg.dp_select import catalogue_signatures, select_claims
from fical_secure.kcg.mining import mine_aliases, supporting_episodes, written_anyway
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.kcg.signatures import induce_signatures, record_values
from fical_secure.kcg.subjects import subjects_of
from fical_secure.llm.base import LLM
from fical_secure.release.dp import Calibration
from fical_secure.scrub.known import KnownIdentifiers

GENERATOR = "kcg-claims"
# meta fields computed from the records themselves, left out of a DP release's meta
DP_PRIVATE_META = ("n_episodes", "k_counts", "seconds")
PROMPT_VERSION = 1
_PARAPHRASE = (
    "Rewrite the sentence in different words. Copy the two quoted parts exactly.\n"
    "Sentence: {sentence}\nRewritten:"
)


@dataclass(frozen=True)
class KnowledgeConfig:
    """Knobs of claim-based KCG; ``min_support`` is the k of k distinct subjects.

    ``cue_precision`` and ``cues_per_tool``: a tool-selection cue's least
    precision for its tool and how many cues one tool keeps (:class:`CueRules`);
    chosen with the Solver's cue weight by cross-validation on the training
    side of BFCL ``live_multiple`` (``benchmarks/results/cue_weight.json``,
    measured with the point estimate of precision). ``cue_precision_z``: the
    precision held to ``cue_precision`` is its Wilson lower bound at this z
    (0, the default: the point estimate; :class:`CueRules`). The 95% bound
    (``Z95``) lowers the synthetic release's phrase-membership AUC (0.558 ->
    0.525 over 5 seeds, ``benchmarks/results/cue_leak_seeds.json``) but halves
    BFCL ``live_multiple``'s held-out top-1 gain over the docs (+0.104/+0.108
    -> +0.056/+0.044, seeds 0/1), so it is opt-in; DP selection is the
    release mode that bounds this leak.
    """

    min_support: int = 2
    cue_precision: float = 0.6
    cues_per_tool: int = 5
    cue_precision_z: float = 0.0
    paraphrase: bool = True
    max_new_tokens: int = 40
    prompts_per_call: int = 32
    # DP mode: claims chosen by DP partition selection with this mechanism (release.dp)
    dp: Calibration | None = None
    seed: int = 0  # of the DP mode's contribution bounding

    def __post_init__(self) -> None:
        if self.min_support < 1 or self.prompts_per_call < 1:
            raise ValueError("min_support and prompts_per_call must be at least 1")


def validated_claims(
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    min_support: int,
    known: KnownIdentifiers | None = None,
    cue_rules: CueRules | None = None,
    argument_rules: ArgumentRules | None = None,
) -> list[tuple[Claim, int]]:
    """Mined claims (aliases, cues, argument claims) that pass the independent validators."""
    subjects = subjects_of(episodes)
    kept: list[tuple[Claim, int]] = []
    for mined in mine_aliases(episodes, catalogue, min_support=min_support, known=known):
        shown = supporting_episodes(mined.claim, episodes, catalogue)
        if (
            shown is not None
            and subjects.count(shown) >= min_support
            and not written_anyway(mined.claim, episodes, catalogue)
        ):
            kept.append((mined.claim, subjects.count(shown)))
    rules = cue_rules or CueRules(min_support=min_support)
    for cue in mine_cues(episodes, rules=rules, known=known):
        support = verify_cue(cue, episodes, rules, known, subjects)
        if support is not None:
            kept.append((cue, support))
    arg_rules = argument_rules or ArgumentRules(min_support=min_support)
    arg_claims = mine_argument_claims(episodes, catalogue, rules=arg_rules, known=known)
    checked = verify_argument_claims(arg_claims, episodes, catalogue, arg_rules, known)
    kept += [(c, n) for c, n in zip(arg_claims, checked, strict=True) if n is not None]
    return kept


def claim_entries(
    claims: Sequence[tuple[Claim, int]], alias_texts: Sequence[str] | None = None
) -> list[Entry]:
    """The compendium entries of ``claims``: aliases first (in ``alias_texts`` where given,
    one per alias in order, else their canonical sentences), then every other claim."""
    aliases = [c for c, _ in claims if isinstance(c, ValueAlias)]
    texts = [render_claim(c) for c in aliases] if alias_texts is None else alias_texts
    entries: list[Entry] = [claim_entry(c, t) for c, t in zip(aliases, texts, strict=True)]
    entries += [claim_entry(c) for c, _ in claims if not isinstance(c, ValueAlias)]
    return entries


def build_knowledge(
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    llm: LLM | None,
    *,
    client_id: str,
    config: KnowledgeConfig | None = None,
    progress: bool = True,
    known: KnownIdentifiers | None = None,
    encoder: TextEncoder | None = None,
) -> Compendium:
    """One client's compendium of validated claims (see the module docstring).

    ``known``: the hospital's known identifiers; no claim's phrase names one.
    ``encoder``: the public sentence encoder that orders each subject's DP votes
    (:mod:`.vote_order`); needed with ``config.dp`` only.

    Raises:
        SchemaError: the client has no episodes.
        ConfigError: DP mode without an ``encoder``.
        GenerationError: the model failed while paraphrasing.
    """
    config = config or KnowledgeConfig()
    if not episodes:
        raise SchemaError(f"client {client_id!r} has no episodes to build a compendium from")
    started = time.perf_counter()
    rules = CueRules(
        config.min_support,
        config.cue_precision,
        config.cues_per_tool,
        precision_z=config.cue_precision_z,
    )
    dp_meta: JsonObject = {}
    if config.dp is None:
        claims = validated_claims(episodes, catalogue, config.min_support, known, rules)
        signatures = induce_signatures(episodes)
    elif encoder is None:
        raise ConfigError("DP claim selection orders each subject's votes with a sentence encoder")
    else:
        chosen = select_claims(
            episodes,
            catalogue,
            config.dp,
            seed=config.seed,
            encoder=encoder,
            rules=rules,
            known=known,
        )
        claims = list(chosen.claims)
        signatures = catalogue_signatures(claims, catalogue)
        dp_meta = {**config.dp.to_dict(), "released_keys": chosen.released_keys}
    aliases = [c for c, _ in claims if isinstance(c, ValueAlias)]
    texts = [render_claim(c) for c in aliases]
    paraphrased = 0
    if config.paraphrase and llm is not None and aliases:
        texts, paraphrased = _paraphrase(llm, aliases, texts, episodes, config, client_id, progress)
    entries = claim_entries(claims, texts)
    meta: JsonObject = {
        "generator": GENERATOR,
        "prompt_version": PROMPT_VERSION,
        "model": llm.name if llm is not None and config.paraphrase else None,
        "n_episodes": len(episodes),
        "selection": "k-support" if config.dp is None else "dp-partition-selection",
        "min_support": config.min_support,
        "dp": dp_meta or None,
        "k_counts": subjects_of(episodes).counted,
        "claims": len(claims),
        "cues": sum(isinstance(c, ToolCue) for c, _ in claims),
        "argument_claims": sum(isinstance(c, ARGUMENT_CLAIMS) for c, _ in claims),
        "paraphrased": paraphrased,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if config.dp is not None:  # the meta travels with the release: nothing the DP output
        for key in DP_PRIVATE_META:  # does not determine (the data's size, how k counted)
            meta.pop(key)
    return Compendium(
        owner=client_id,
        entries=tuple(dict.fromkeys(entries)),
        signatures=signatures,
        meta=meta,
    )


def _paraphrase(
    llm: LLM,
    claims: list[ValueAlias],
    texts: list[str],
    episodes: Sequence[Episode],
    config: KnowledgeConfig,
    client_id: str,
    progress: bool,
) -> tuple[list[str], int]:
    """Model paraphrases where they state the same claim and leak no record value."""

    prompts = [_PARAPHRASE.format(sentence=t) for t in texts]
    outputs: list[str] = []
    size = config.prompts_per_call
    with tqdm(
        total=len(prompts), desc=f"KCG {client_id}", unit="claim", disable=not progress
    ) as bar:
        for start in range(0, len(prompts), size):
            chunk = prompts[start : start + size]
            outputs += llm.generate(chunk, max_new_tokens=config.max_new_tokens)
            bar.update(len(chunk))
    values = {v.lower() for v in record_values(episodes) if len(v) >= 4}
    out, used = [], 0
    for claim, canonical, raw in zip(claims, texts, outputs, strict=True):
        text = raw.strip().splitlines()[0].strip() if raw.strip() else ""
        low = text.lower()
        leaks = any(v in low for v in values if v not in canonical.lower())
        if text and text != canonical and not leaks and parse_claim(claim.tool, text) == claim:
            try:
                claim_entry(claim, text)
            except SchemaError:
                out.append(canonical)
                continue
            out.append(text)
            used += 1
        else:
            out.append(canonical)
    return out, used
