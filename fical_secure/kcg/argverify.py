"""Re-verify argument claims from scratch: scan the episodes again, not the miner's tables.

A claim of :mod:`fical_secure.kcg.arguments` keeps its support only when the
calls of its tool still show it under the same rules (k distinct subjects,
shares, lift, the identifier and reproduction checks); changed data, a
forged claim or a path the catalogue does not have gives ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fical_secure.data.schema import ArgSpec, ArgValue, Episode, ToolSpec
from fical_secure.kcg.argforms import suffix_shown, year_shown
from fical_secure.kcg.arguments import ArgumentRules, ClaimChecks, claim_checks, lifted
from fical_secure.kcg.argvalues import (
    arg_paths,
    free_text,
    loads,
    mentions,
    says,
    strings_at,
    values_at,
)
from fical_secure.kcg.claims import (
    ArgumentClaim,
    ArgumentShape,
    DefaultYear,
    Normalisation,
    OmittedArgument,
    UsualSuffix,
    UsualValue,
    value_json,
)
from fical_secure.kcg.cues import phrase_in, words
from fical_secure.kcg.shapes import BY_NAME
from fical_secure.scrub.known import KnownIdentifiers


def verify_argument_claim(
    claim: ArgumentClaim,
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    rules: ArgumentRules | None = None,
    known: KnownIdentifiers | None = None,
) -> int | None:
    """Distinct subjects whose calls show ``claim``; ``None`` if it fails a rule.

    Recomputed by scanning the episodes of the claim's tool again (not the
    miner's tables), with the miner's identifier and reproduction checks.
    """
    return verify_argument_claims([claim], episodes, catalogue, rules, known)[0]


def verify_argument_claims(
    claims: Sequence[ArgumentClaim],
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    rules: ArgumentRules | None = None,
    known: KnownIdentifiers | None = None,
) -> list[int | None]:
    """:func:`verify_argument_claim` for each claim, reading the episodes' requests once."""
    checks = claim_checks(episodes, rules or ArgumentRules(), known)
    return [_verify(c, episodes, catalogue, checks) for c in claims]


def _verify(
    claim: ArgumentClaim,
    episodes: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    checks: ClaimChecks,
) -> int | None:
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
    elif isinstance(claim, DefaultYear):
        shown = _year_shown(claim, arg, calls, checks.rules)
    elif isinstance(claim, UsualSuffix):
        shown = _suffix_shown(claim, arg, calls, checks)
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


def _year_shown(
    claim: DefaultYear, arg: ArgSpec, calls: Written, rules: ArgumentRules
) -> list[str] | None:
    if not free_text(arg):
        return None
    at = [(e, w.get(claim.path, [])) for e, w in calls]
    dated = year_shown(at, rules.min_usual_share)
    return dated[1] if dated is not None and dated[0] == claim.year else None


def _suffix_shown(
    claim: UsualSuffix, arg: ArgSpec, calls: Written, checks: ClaimChecks
) -> list[str] | None:
    if not free_text(arg) or not checks.releasable("", value_json(claim.suffix)):
        return None
    at = [(e, w.get(claim.path, [])) for e, w in calls]
    suffixed = suffix_shown(at, checks.rules.min_usual_share)
    return suffixed[1] if suffixed is not None and suffixed[0] == claim.suffix else None


def _usual_shown(claim: UsualValue, calls: Written, checks: ClaimChecks) -> list[str] | None:
    value: Any = loads(claim.value)
    silent = [(e, w) for e, w in calls if not says(e.request, value)]
    shown = [
        e.episode_id
        for e, w in silent
        if any(value_json(v) == claim.value for v in w.get(claim.path, []))
    ]
    share = len(shown) > checks.rules.min_usual_share * len(silent) if silent else False
    return shown if share and checks.releasable("", claim.value) else None


def _normal_shown(
    claim: Normalisation, arg: ArgSpec, calls: Written, checks: ClaimChecks
) -> list[str] | None:
    value = loads(claim.value)
    if not free_text(arg) or not isinstance(value, str):
        return None
    has = {e.episode_id: value in strings_at(w.get(claim.path, [])) for e, w in calls}
    hits = {e.episode_id for e, _ in calls if phrase_in(words(e.request), claim.phrase)}
    inside = sum(has[i] for i in hits)
    outside = sum(has.values()) - inside
    if not lifted(inside, len(hits), outside, len(has) - len(hits), checks.rules):
        return None
    shown = [
        e.episode_id
        for e, _ in calls
        if e.episode_id in hits and has[e.episode_id] and not mentions(e.request, value)
    ]
    clean = checks.specific(claim.phrase, claim.value)
    return shown if clean and checks.releasable(claim.phrase, claim.value) else None
