"""Deterministic generator of the synthetic federated clinical tool-use corpus.

``generate_federation`` builds hospitals with non-IID tool subsets (each holds
5-8 of the catalogue's tools, with a Dirichlet-skewed mix over them, and every
tool is held by some hospital), member and non-member episode splits drawn
from the same per-hospital distribution with disjoint patients, planted
Secret-Sharer canaries in member episodes, held-out evaluation requests
phrased with templates no episode uses, and the exact PII manifest.

Knowledge lives in the examples (:mod:`fical_secure.data.conventions`): each
hospital has house phrases for some argument values and a share of terse
requests that name no tool. Evaluation requests come from every hospital:
``docs`` ones in standard words (one per held-out template and tool, as
before), ``local`` ones in a house phrase that the hospital's own member
episodes use at least twice, and ``elsewhere`` ones in a phrase that only
other hospitals' member episodes use (at least twice there, never here).

All randomness comes from ``random.Random(seed)`` and a Faker instance seeded
with ``seed_instance(seed)``: the same seed gives byte-identical output (for
one Faker version), a different seed different data.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from faker import Faker

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.compose import (
    Fragment,
    compose_answer,
    compose_request,
    fill,
    join,
    planted,
    sample_arguments,
)
from fical_secure.data.conventions import Dialect, assign_dialect, house_words, template_for
from fical_secure.data.pii import IdentityFactory, random_canary
from fical_secure.data.results import simulate_result
from fical_secure.data.schema import (
    Episode,
    EvalRequest,
    Federation,
    HospitalData,
    PIIValue,
    Split,
    ToolCall,
    ToolSpec,
)
from fical_secure.data.templates import CANARY_CLAUSES, REQUEST_TEMPLATES
from fical_secure.errors import ConfigError

MIN_TOOLS, MAX_TOOLS = 5, 8
DIRICHLET_ALPHA = 0.7  # < 1: a few tools dominate each hospital's traffic
_HOSPITAL_KINDS = (
    "General Hospital",
    "Medical Center",
    "Regional Hospital",
    "University Hospital",
    "Community Hospital",
)


def assign_tools(n_hospitals: int, rng: random.Random) -> list[tuple[str, ...]]:
    """Give each hospital 5-8 tools (more if needed) so that every tool is held by one.

    Tools are first dealt round-robin from a shuffled catalogue (coverage),
    then each hospital is topped up with random other tools. The result is in
    catalogue order.
    """
    order = [spec.name for spec in CATALOGUE]
    shuffled = order[:]
    rng.shuffle(shuffled)
    held: list[list[str]] = [shuffled[i::n_hospitals] for i in range(n_hospitals)]
    for tools in held:
        size = max(len(tools), rng.randint(MIN_TOOLS, MAX_TOOLS))
        others = [name for name in order if name not in tools]
        rng.shuffle(others)
        tools.extend(others[: size - len(tools)])
    return [tuple(name for name in order if name in tools) for tools in held]


def dirichlet(size: int, alpha: float, rng: random.Random) -> list[float]:
    """One draw from a symmetric Dirichlet(alpha) of dimension ``size``."""
    draws = [rng.gammavariate(alpha, 1.0) for _ in range(size)]
    total = sum(draws)
    if total <= 0.0:  # every gamma draw underflowed: fall back to uniform
        return [1.0 / size] * size
    return [d / total for d in draws]


def allocate(weights: list[float], total: int) -> list[int]:
    """Split ``total`` episodes over tools in proportion to ``weights`` (largest remainder).

    Every tool gets at least one episode when ``total`` allows, so a hospital
    has examples of each tool it holds. Deterministic, so a hospital's member
    and non-member splits of equal size have the same tool counts.
    """
    floor = 1 if total >= len(weights) else 0
    spare = total - floor * len(weights)
    shares = [w * spare for w in weights]
    counts = [floor + math.floor(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(shares[i] % 1.0), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _pii_values(fragment: Fragment, owner: str) -> tuple[PIIValue, ...]:
    return tuple(PIIValue(kind, value, owner) for kind, value in fragment.pii)


class _Builder:
    """Holds the seeded generators while one federation is built."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        fake = Faker("en_US")
        fake.seed_instance(seed)
        self.fake = fake
        self.people = IdentityFactory(fake, self.rng)
        self.canaries: set[str] = set()

    def episode(
        self,
        tool: ToolSpec,
        episode_id: str,
        hospital_id: str,
        split: Split,
        canary: bool,
        dialect: Dialect,
    ) -> Episode:
        """One episode of ``tool`` about a fresh patient, in the house's words."""
        person = self.people.new()
        args = sample_arguments(tool, person, self.rng, dialect)
        template = template_for(
            tool.name, dialect, REQUEST_TEMPLATES[tool.name].train, False, self.rng
        )
        words = house_words(dialect, self.rng)
        request = compose_request(tool, template, person, args, self.rng, words)
        if canary:
            request = join([request, self._canary_clause()])
        call = ToolCall(tool.name, args)
        result = simulate_result(call)
        answer = compose_answer(result, request, self.rng)
        pii = _pii_values(join([request, answer]), episode_id)
        return Episode(episode_id, hospital_id, request.text, call, result, answer.text, split, pii)

    def _canary_clause(self) -> Fragment:
        value = random_canary(self.rng)
        while value in self.canaries:
            value = random_canary(self.rng)
        self.canaries.add(value)
        return fill(self.rng.choice(CANARY_CLAUSES), {"canary": planted("CANARY", value)})

    def split(
        self,
        hospital_id: str,
        tools: tuple[str, ...],
        counts: list[int],
        split: Split,
        canaries: int,
        dialect: Dialect,
    ) -> list[Episode]:
        """Episodes of one split, in shuffled tool order, with ``canaries`` of them canaried."""
        sequence = [name for name, n in zip(tools, counts, strict=True) for _ in range(n)]
        self.rng.shuffle(sequence)
        marked = set(self.rng.sample(range(len(sequence)), min(canaries, len(sequence))))
        tag = "m" if split == "member" else "n"
        return [
            self.episode(
                _spec(name), f"{hospital_id}-{tag}{i:04d}", hospital_id, split, i in marked, dialect
            )
            for i, name in enumerate(sequence)
        ]

    def eval_request(self, tool: ToolSpec, k: int) -> tuple[EvalRequest, tuple[PIIValue, ...]]:
        """Held-out request ``k`` for ``tool``: a fresh patient and a held-out template."""
        person = self.people.new()
        args = sample_arguments(tool, person, self.rng)
        held_out = REQUEST_TEMPLATES[tool.name].held_out
        request = compose_request(tool, held_out[k % len(held_out)], person, args, self.rng)
        request_id = f"eval-{tool.name}-{k:03d}"
        gold = ToolCall(tool.name, args)
        return EvalRequest(request_id, request.text, gold, needs="docs"), _pii_values(
            request, request_id
        )

    def knowledge_request(
        self,
        request_id: str,
        hospital: HospitalData,
        value: str,
        phrase: str,
        needs: str,
        dialect: Dialect,
    ) -> tuple[EvalRequest, tuple[PIIValue, ...]]:
        """A held-out request of ``hospital`` whose ``value`` is written as ``phrase``."""
        tools = [
            spec
            for spec in CATALOGUE
            if any(value in a.choices for a in spec.args if a.type == "enum")
        ]
        own = [spec for spec in tools if spec.name in hospital.tools]
        tool = self.rng.choice(own if needs == "local" and own else tools)
        person = self.people.new()
        args = sample_arguments(tool, person, self.rng)
        slot = self.rng.choice([a.name for a in tool.args if value in a.choices])
        clash = [a.name for a in tool.args if a.name != slot and args[a.name] == value]
        for name in clash:  # two drugs of one check must differ
            args[name] = next(c for c in tool.arg(name).choices if c != value)
        args[slot] = value
        template = template_for(
            tool.name, dialect, REQUEST_TEMPLATES[tool.name].held_out, True, self.rng
        )
        request = compose_request(tool, template, person, args, self.rng, {value: phrase})
        gold = ToolCall(tool.name, args)
        return (
            EvalRequest(request_id, request.text, gold, hospital.hospital_id, needs),
            _pii_values(request, request_id),
        )


def phrase_counts(episodes: list[Episode], phrases: dict[str, str]) -> dict[str, int]:
    """How many of ``episodes`` write each value with its phrase (value -> count)."""
    counts = {}
    for value, phrase in phrases.items():
        counts[value] = sum(
            phrase.lower() in e.request.lower() and value in map(str, e.call.arguments.values())
            for e in episodes
        )
    return counts


def _knowledge_eval(
    builder: _Builder, hospitals: list[HospitalData], dialects: list[Dialect], per_hospital: int
) -> tuple[list[EvalRequest], list[PIIValue]]:
    """``per_hospital`` local and ``per_hospital`` elsewhere requests of every hospital."""
    seen = [
        {v for v, n in phrase_counts(h.members, d.phrases).items() if n >= 2}
        for h, d in zip(hospitals, dialects, strict=True)
    ]
    requests: list[EvalRequest] = []
    pii: list[PIIValue] = []
    for i, (hospital, dialect) in enumerate(zip(hospitals, dialects, strict=True)):
        own = sorted(seen[i])
        mine = {p.lower() for p in dialect.phrases.values()}
        foreign = sorted(
            {
                (v, dialects[j].phrases[v])
                for j in range(len(hospitals))
                if j != i
                for v in seen[j]
                if dialects[j].phrases[v].lower() not in mine
            }
        )
        builder.rng.shuffle(own)
        jobs = [
            ("local", own[n % len(own)], dialect.phrases[own[n % len(own)]])
            for n in range(per_hospital if own else 0)
        ]
        picks = builder.rng.sample(foreign, min(per_hospital, len(foreign)))
        jobs += [("elsewhere", v, phrase) for v, phrase in picks]
        for n, (needs, value, phrase) in enumerate(jobs):
            request_id = f"eval-{hospital.hospital_id}-{needs}-{n:03d}"
            request, values = builder.knowledge_request(
                request_id, hospital, value, phrase, needs, dialect
            )
            requests.append(request)
            pii.extend(values)
    return requests, pii


def _spec(name: str) -> ToolSpec:
    return next(spec for spec in CATALOGUE if spec.name == name)


def _check_parameters(seed: int, **counts: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer, got {value!r}")
        low = 1 if name == "n_hospitals" else 0
        if value < low or value > 10_000:
            raise ConfigError(f"{name} must lie between {low} and 10000, got {value}")
    if counts["canaries_per_hospital"] > counts["episodes_per_hospital"]:
        raise ConfigError("canaries_per_hospital cannot exceed episodes_per_hospital")


def generate_federation(
    n_hospitals: int = 5,
    *,
    seed: int = 0,
    episodes_per_hospital: int = 40,
    nonmembers_per_hospital: int = 40,
    eval_per_tool: int = 6,
    canaries_per_hospital: int = 2,
    knowledge_eval_per_hospital: int = 6,
) -> Federation:
    """Build the synthetic federation for ``seed`` (see the module docstring).

    Raises:
        ConfigError: the seed or a count is not an integer, a count is negative (``n_hospitals``
            below 1), exceeds 10000, or more canaries than member episodes
            are asked for.
    """
    _check_parameters(
        seed,
        n_hospitals=n_hospitals,
        episodes_per_hospital=episodes_per_hospital,
        nonmembers_per_hospital=nonmembers_per_hospital,
        eval_per_tool=eval_per_tool,
        canaries_per_hospital=canaries_per_hospital,
        knowledge_eval_per_hospital=knowledge_eval_per_hospital,
    )
    builder = _Builder(seed)
    hospitals: list[HospitalData] = []
    dialects: list[Dialect] = []
    for index, tools in enumerate(assign_tools(n_hospitals, builder.rng), start=1):
        hospital_id = f"h{index:02d}"
        name = f"{builder.fake.city()} {builder.rng.choice(_HOSPITAL_KINDS)}"
        weights = dirichlet(len(tools), DIRICHLET_ALPHA, builder.rng)
        counts = allocate(weights, episodes_per_hospital)
        dialect = assign_dialect(
            [(_spec(t), n) for t, n in zip(tools, counts, strict=True)], builder.rng
        )
        dialects.append(dialect)
        members = builder.split(
            hospital_id, tools, counts, "member", canaries_per_hospital, dialect
        )
        nonmembers = builder.split(
            hospital_id, tools, allocate(weights, nonmembers_per_hospital), "nonmember", 0, dialect
        )
        hospitals.append(HospitalData(hospital_id, name, tools, members, nonmembers))
    eval_requests: list[EvalRequest] = []
    manifest = [p for h in hospitals for e in h.members + h.nonmembers for p in e.pii]
    for spec in CATALOGUE:
        for k in range(eval_per_tool):
            request, pii = builder.eval_request(spec, k)
            # docs-level requests are spread over the hospitals, so each has some
            owner = hospitals[(len(eval_requests)) % len(hospitals)].hospital_id
            eval_requests.append(replace(request, hospital_id=owner))
            manifest.extend(pii)
    knowledge, pii_k = _knowledge_eval(builder, hospitals, dialects, knowledge_eval_per_hospital)
    eval_requests += knowledge
    manifest.extend(pii_k)
    return Federation(seed, CATALOGUE, hospitals, eval_requests, manifest)
