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
``docs`` ones in standard words (one per held-out template and tool), and a
uniform seeded sample of each hospital's own traffic (drawn as its episodes
are, phrased with held-out templates), asked by the hospital itself
(``local``) or by another one (``elsewhere``). The federation is a mechanism
test: its hospitals write the phrases that KCG's miner looks for.

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

    def held_out_request(
        self, request_id: str, tool: ToolSpec, asker: str, needs: str, dialect: Dialect
    ) -> tuple[EvalRequest, tuple[PIIValue, ...]]:
        """A request drawn as the hospital of ``dialect`` draws its episodes, asked by ``asker``.

        Only the phrasing differs from an episode: a held-out template.
        """
        person = self.people.new()
        args = sample_arguments(tool, person, self.rng, dialect)
        template = template_for(
            tool.name, dialect, REQUEST_TEMPLATES[tool.name].held_out, True, self.rng
        )
        words = house_words(dialect, self.rng)
        request = compose_request(tool, template, person, args, self.rng, words)
        gold = ToolCall(tool.name, args)
        return (
            EvalRequest(request_id, request.text, gold, asker, needs),
            _pii_values(request, request_id),
        )


def _traffic_eval(
    builder: _Builder,
    hospitals: list[HospitalData],
    dialects: list[Dialect],
    mixes: list[list[float]],
    per_hospital: int,
) -> tuple[list[EvalRequest], list[PIIValue]]:
    """``2 * per_hospital`` held-out requests of every hospital's own traffic.

    Each is a seeded draw from the hospital's distribution (tool by its mix,
    its house phrases at their usual rate), so nothing selects them by what
    the members show. Every second one is asked by the hospital itself
    (``local``), the others by another hospital drawn uniformly (``elsewhere``).
    """
    requests: list[EvalRequest] = []
    pii: list[PIIValue] = []
    ids = [h.hospital_id for h in hospitals]
    for hospital, dialect, mix in zip(hospitals, dialects, mixes, strict=True):
        others = [h for h in ids if h != hospital.hospital_id]
        for n in range(2 * per_hospital):
            tool = _spec(builder.rng.choices(hospital.tools, weights=mix)[0])
            local = n % 2 == 0 or not others
            asker = hospital.hospital_id if local else builder.rng.choice(others)
            needs = "local" if local else "elsewhere"
            request_id = f"eval-{hospital.hospital_id}-{needs}-{n:03d}"
            request, values = builder.held_out_request(request_id, tool, asker, needs, dialect)
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
    mixes: list[list[float]] = []
    for index, tools in enumerate(assign_tools(n_hospitals, builder.rng), start=1):
        hospital_id = f"h{index:02d}"
        name = f"{builder.fake.city()} {builder.rng.choice(_HOSPITAL_KINDS)}"
        weights = dirichlet(len(tools), DIRICHLET_ALPHA, builder.rng)
        mixes.append(weights)
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
    knowledge, pii_k = _traffic_eval(
        builder, hospitals, dialects, mixes, knowledge_eval_per_hospital
    )
    eval_requests += knowledge
    manifest.extend(pii_k)
    return Federation(seed, CATALOGUE, hospitals, eval_requests, manifest)
