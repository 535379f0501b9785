"""Envelope mutants for robustness sweeps (the mutation test and ``benchmarks/envelope.py``).

Lives outside the package: it is test tooling, not part of the crypto core.

Given a valid envelope, yields ``(label, mutant)`` pairs: single-bit flips,
truncations, appended bytes, and every header field set to boundary values
(0, all ones, the original plus and minus one), both unsigned (the signature
must catch them) and re-signed by the genuine sender (the layers under the
signature must catch them: context check, recipient check, low-order check,
AEAD). Every mutant differs from the original, so every one must be rejected.
Mutants are produced lazily: a 1 MiB envelope gives 1 MiB per mutant.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from fical_secure.crypto import envelope
from fical_secure.crypto.identity import IdentityKey, RoundKey
from fical_secure.errors import InvalidEnvelope

Mutant = tuple[str, bytes]

# (name, offset, size) of every header field, in layout order.
HEADER_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("version", 0, 1),
    ("round_id", 1, 8),
    ("sender_key_id", 9, 16),
    ("recipient_key_id", 25, 16),
    ("stage", 41, 1),
    ("config_hash", 42, 32),
    ("ephemeral_public", 74, 32),
    ("nonce", 106, 12),
)
_P = 2**255 - 19


def fixed_regions(length: int) -> list[range]:
    """Byte ranges of header, tag and signature of an envelope of ``length`` bytes."""
    tag_start = length - envelope.SIGNATURE_SIZE - envelope.TAG_SIZE
    return [range(0, envelope.HEADER_SIZE), range(tag_start, length)]


def bit_flips(blob: bytes, bit_positions: Iterable[int]) -> Iterator[Mutant]:
    """One mutant per bit position (``8 * byte + bit``)."""
    for position in bit_positions:
        mutant = bytearray(blob)
        mutant[position // 8] ^= 1 << (position % 8)
        yield f"flip bit {position}", bytes(mutant)


def flip_positions(blob: bytes, *, rng: random.Random, body_samples: int | None) -> list[int]:
    """Every bit of header, tag and signature; all or ``body_samples`` body bits."""
    fixed = [8 * i + b for region in fixed_regions(len(blob)) for i in region for b in range(8)]
    body_bits = range(8 * envelope.HEADER_SIZE, 8 * fixed_regions(len(blob))[1].start)
    if body_samples is None or body_samples >= len(body_bits):
        return fixed + list(body_bits)
    return fixed + rng.sample(body_bits, body_samples)


def truncations(blob: bytes, *, rng: random.Random, samples: int | None) -> Iterator[Mutant]:
    """Every prefix shorter than ``blob``, or the region edges plus a sample."""
    if samples is None or samples >= len(blob):
        lengths: Iterable[int] = range(len(blob))
    else:
        edges = {0, 1, envelope.HEADER_SIZE - 1, envelope.HEADER_SIZE, len(blob) - 1}
        edges |= {len(blob) - envelope.SIGNATURE_SIZE - d for d in (-1, 0, 1, envelope.TAG_SIZE)}
        lengths = sorted(edges | set(rng.sample(range(len(blob)), samples)))
    for length in lengths:
        yield f"truncate to {length}", blob[:length]


def extensions(blob: bytes) -> Iterator[Mutant]:
    """Appended zero, random-looking and duplicated-signature bytes; a doubled envelope."""
    tail = blob[-envelope.SIGNATURE_SIZE :]
    for label, extra in (
        ("append 0x00", b"\x00"),
        ("append 0xff", b"\xff"),
        ("append 16 zero bytes", bytes(16)),
        ("append the signature again", tail),
        ("append the envelope again", blob),
    ):
        yield label, blob + extra


def _boundary_values(name: str, original: bytes) -> list[bytes]:
    """0, all ones, original +/- 1 (big-endian), and low-order points for keys."""
    size = len(original)
    as_int = int.from_bytes(original, "big")
    values = [0, 2 ** (8 * size) - 1, as_int + 1, as_int - 1]
    candidates = [v.to_bytes(size, "big") for v in values if 0 <= v < 2 ** (8 * size)]
    if name == "ephemeral_public":  # low-order and non-canonical X25519 encodings
        candidates += [u.to_bytes(32, "little") for u in (1, _P - 1, _P, _P + 1)]
    return [c for c in dict.fromkeys(candidates) if c != original]


def header_boundary_mutants(
    blob: bytes, *, resign_as: IdentityKey | None = None
) -> Iterator[Mutant]:
    """Each header field set to each boundary value; re-signed if ``resign_as``."""
    header_end, body_end = envelope.HEADER_SIZE, len(blob) - envelope.SIGNATURE_SIZE
    for name, offset, size in HEADER_FIELDS:
        for value in _boundary_values(name, blob[offset : offset + size]):
            header = blob[:offset] + value + blob[offset + size : header_end]
            body = blob[header_end:body_end]
            if resign_as is None:
                yield f"{name}={value.hex()}", header + blob[header_end:]
            else:
                mutant = envelope._sign_and_assemble(resign_as, header, body)
                yield f"{name}={value.hex()} re-signed", mutant


def all_mutants(
    blob: bytes,
    *,
    sender: IdentityKey,
    rng: random.Random,
    body_samples: int | None,
    truncation_samples: int | None,
) -> Iterator[Mutant]:
    """Every kind above for one envelope; ``None`` samples mean exhaustive."""
    yield from bit_flips(blob, flip_positions(blob, rng=rng, body_samples=body_samples))
    yield from truncations(blob, rng=rng, samples=truncation_samples)
    yield from extensions(blob)
    yield from header_boundary_mutants(blob)
    yield from header_boundary_mutants(blob, resign_as=sender)


@dataclass
class SweepResult:
    """Outcome of opening every mutant: counts, failures and rejection times."""

    mutants: int = 0
    accepted: list[str] = field(default_factory=list)
    wrong_error: list[str] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Mutants refused with exactly InvalidEnvelope."""
        return self.mutants - len(self.accepted) - len(self.wrong_error)

    def figures(self) -> dict[str, float]:
        """Summary figures for a benchmark record."""
        return {
            "mutants_tested": self.mutants,
            "mutants_rejected": self.rejected,
            "max_reject_ms": max(self.wall_ms, default=0.0),
            "median_reject_ms": statistics.median(self.wall_ms) if self.wall_ms else 0.0,
            "max_reject_cpu_ms": max(self.cpu_ms, default=0.0),
        }


def run_sweep(mutants: Iterable[Mutant], open_fn: Callable[[bytes], object]) -> SweepResult:
    """Open every mutant; record acceptances, other exceptions and timings.

    Wall time is what a server waits; thread CPU time is what it spends, and
    does not grow when other processes share the cores.
    """
    result = SweepResult()
    for label, blob in mutants:
        result.mutants += 1
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            open_fn(blob)
        except InvalidEnvelope:
            result.wall_ms.append((time.perf_counter() - wall) * 1e3)
            result.cpu_ms.append((time.thread_time() - cpu) * 1e3)
            continue
        except Exception as exc:  # any other type is itself the finding
            result.wrong_error.append(f"{label}: {type(exc).__name__}")
            continue
        result.accepted.append(label)
    return result


SweepPlan = tuple[tuple[int, int | None, int | None], ...]
"""Rows of (payload bytes, body bit samples, truncation samples); None = exhaustive."""

DEFAULT_PLAN: SweepPlan = ((0, None, None), (17, None, None), (1 << 20, 64, 64))
"""About 5,700 mutants: the default test run."""

BENCH_PLAN: SweepPlan = (
    (0, None, None),
    (1, None, None),
    (16, None, None),
    (17, None, None),
    (100, None, None),
    (1024, None, None),
    (4096, None, None),
    (8192, None, None),
    (65536, 4096, 512),
    (1 << 20, 2048, 256),
)
"""Over 100,000 mutants: benchmark mode."""


def run_plan(plan: SweepPlan, *, seed: int) -> SweepResult:
    """Seal a random payload per row under fresh keys and sweep its mutants."""
    rng = random.Random(seed)
    sender, recipient = IdentityKey.generate(), RoundKey.generate()
    context = envelope.EnvelopeContext(
        round_id=rng.randrange(1, 2**64 - 1),
        stage=rng.randrange(1, 255),
        config_hash=rng.randbytes(32),
    )

    def open_fn(blob: bytes) -> bytes:
        return envelope.open_envelope(
            blob, recipient=recipient, sender_public=sender.public, context=context
        )

    def cases() -> Iterator[Mutant]:
        for size, body_samples, truncation_samples in plan:
            blob = envelope.seal(
                rng.randbytes(size),
                sender=sender,
                recipient_public=recipient.public_bytes(),
                recipient_key_id=recipient.key_id,
                context=context,
            )
            open_fn(blob)  # the unmutated envelope must open (raises otherwise)
            for label, mutant in all_mutants(
                blob,
                sender=sender,
                rng=rng,
                body_samples=body_samples,
                truncation_samples=truncation_samples,
            ):
                yield f"{size} B payload, {label}", mutant

    return run_sweep(cases(), open_fn)
