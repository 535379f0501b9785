"""Envelope benchmark: seal+open throughput against raw ChaCha20-Poly1305, and the
100k-mutant rejection sweep. Writes benchmarks/results/envelope.json.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/envelope.py [--quick]

Throughput ratio = time of raw ``cryptography`` ChaCha20Poly1305 encrypt+decrypt
(same payload, a 118-byte AAD like our header) / time of our seal+open_envelope,
each the median over repeats, measured interleaved in the same run. A ratio of
1.0 would mean the envelope costs nothing beyond the AEAD itself.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # noqa: E402

from benchmarks import envelope_mutants as mutation  # noqa: E402
from fical_secure.crypto import labels, primitives  # noqa: E402
from fical_secure.crypto.envelope import (  # noqa: E402
    ENVELOPE_OVERHEAD,
    HEADER_SIZE,
    TAG_SIZE,
    EnvelopeContext,
    open_envelope,
    seal,
)
from fical_secure.crypto.keys import IdentityKey, RoundKey  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "envelope.json"
SIZES = {"1kib": 1 << 10, "64kib": 1 << 16, "1mib": 1 << 20}


def _median_ms(fn: Callable[[], object], repeats: int, inner: int) -> float:
    """Median over ``repeats`` of the mean time of ``inner`` calls, in ms."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) * 1e3 / inner)
    return statistics.median(samples)


def measure_throughput(repeats: int) -> dict[str, Any]:
    """Per size: baseline and envelope ms per seal+open, MB/s, and their ratio."""
    sender, recipient = IdentityKey.generate(), RoundKey.generate()
    context = EnvelopeContext(round_id=1, stage=1, config_hash=os.urandom(32))
    aead, nonce, aad = ChaCha20Poly1305(os.urandom(32)), os.urandom(12), os.urandom(118)
    rows: dict[str, Any] = {}

    def raw(payload: bytes) -> None:
        aead.decrypt(nonce, aead.encrypt(nonce, payload, aad), aad)

    def ours(payload: bytes) -> None:
        blob = seal(
            payload,
            sender=sender,
            recipient_public=recipient.public_bytes(),
            recipient_key_id=recipient.key_id,
            context=context,
        )
        open_envelope(blob, recipient=recipient, sender_public=sender.public, context=context)

    for name, size in SIZES.items():
        payload = os.urandom(size)
        inner = max(1, (1 << 22) // size)
        raw_ms, ours_ms = [], []
        for _ in range(repeats):  # interleave so drift hits both alike
            raw_ms.append(_median_ms(lambda p=payload: raw(p), 1, inner))
            ours_ms.append(_median_ms(lambda p=payload: ours(p), 1, inner))
        raw_t, ours_t = statistics.median(raw_ms), statistics.median(ours_ms)
        rows[name] = {
            "payload_bytes": size,
            "raw_ms": round(raw_t, 5),
            "envelope_ms": round(ours_t, 5),
            "raw_mb_s": round(size / raw_t / 1e3, 1),
            "envelope_mb_s": round(size / ours_t / 1e3, 1),
            "throughput_ratio": round(raw_t / ours_t, 4),
        }
    big = os.urandom(SIZES["1mib"])
    rows["sha256_1mib_ms"] = round(_median_ms(lambda: primitives.sha256(big), repeats, 8), 4)
    rows["floor"] = measure_floor(rows["1mib"]["raw_ms"], repeats)
    rows["floor"]["envelope_vs_floor_1mib"] = round(
        rows["floor"]["floor_1mib_ms"] / rows["1mib"]["envelope_ms"], 4
    )
    rows["minor_faults"] = {
        "raw": _minor_faults(lambda: raw(big)),
        "envelope": _minor_faults(lambda: ours(big)),
    }
    return rows


def measure_floor(raw_ms: float, repeats: int) -> dict[str, float]:
    """The least any implementation of this envelope can cost, from its primitives.

    The issue fixes the construction: an ephemeral X25519 agreement with the
    recipient's key and an Ed25519 signature by the sender over header and
    ciphertext, verified before decryption. So seal+open must, besides the AEAD,
    generate one X25519 key, run two X25519 agreements, two HKDFs, one Ed25519
    sign and one verify (the fixed cost), and hash the 1 MiB body once on each
    side (any signature over a long message hashes it; a Poly1305 tag cannot
    stand in, because the recipient knows the AEAD key and could forge a second
    ciphertext with the same tag). Each is timed alone here, in the same run.
    """
    sender, recipient = IdentityKey.generate(), RoundKey.generate()
    recipient_public = recipient.public_bytes()
    digest = labels.ENVELOPE_SIGNATURE + os.urandom(32)
    signature = sender.sign(digest)
    salt = os.urandom(64)

    def fixed() -> None:
        ephemeral = RoundKey.generate()
        shared = ephemeral.exchange(recipient_public)
        primitives.hkdf_sha256(shared, salt=salt, info=labels.ENVELOPE_KEY, length=32)
        sender.sign(digest)
        sender.public.verify(signature, digest)
        shared = recipient.exchange(ephemeral.public_bytes())
        primitives.hkdf_sha256(shared, salt=salt, info=labels.ENVELOPE_KEY, length=32)

    body = os.urandom(HEADER_SIZE + SIZES["1mib"] + TAG_SIZE)
    fixed_ms = _median_ms(fixed, repeats, 200)
    hash_ms = 2 * _median_ms(lambda: primitives.sha256(body), repeats, 8)
    floor_ms = raw_ms + fixed_ms + hash_ms
    return {
        "fixed_public_key_ms": round(fixed_ms, 5),
        "two_body_hashes_1mib_ms": round(hash_ms, 5),
        "floor_1mib_ms": round(floor_ms, 5),
        "throughput_ratio_floor_1mib": round(raw_ms / floor_ms, 4),
        "throughput_ratio_floor_without_hashing_1mib": round(raw_ms / (raw_ms + fixed_ms), 4),
    }


def _minor_faults(fn: Callable[[], object], calls: int = 200) -> float:
    """Minor page faults per call (fresh pages the allocator had handed back)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return round((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls, 1)


def machine() -> str:
    """Cores, memory and CPU model, for the record."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "unknown memory"
    python = platform.python_version()
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores ({model}), {memory}, CPU only, Python {python},"
        f" load {load:.2f} at start"
    )


def target(rule: str, measured: float, met: bool) -> dict[str, Any]:
    return {"target": rule, "measured": measured, "met": met}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="default sweep, fewer repeats")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = measure_throughput(repeats=5 if args.quick else 15)
    sweep = mutation.run_plan(
        mutation.DEFAULT_PLAN if args.quick else mutation.BENCH_PLAN, seed=2026
    )
    if sweep.accepted or sweep.wrong_error:
        print(f"mutants not rejected: {(sweep.accepted + sweep.wrong_error)[:5]}", file=sys.stderr)
    sweep_figures = sweep.figures()
    figures: dict[str, Any] = {
        "throughput_ratio_1mib": rows["1mib"]["throughput_ratio"],
        "throughput_ratio_64kib": rows["64kib"]["throughput_ratio"],
        "throughput_ratio_1kib": rows["1kib"]["throughput_ratio"],
        "overhead_bytes": ENVELOPE_OVERHEAD,
        **{k: round(v, 4) for k, v in sweep_figures.items()},
        "per_size": {k: rows[k] for k in SIZES},
        "sha256_1mib_ms": rows["sha256_1mib_ms"],
        "floor": rows["floor"],
        "minor_faults_per_call_1mib": rows["minor_faults"],
    }
    ratio, max_ms = figures["throughput_ratio_1mib"], figures["max_reject_ms"]
    record: dict[str, Any] = {
        "benchmark": "envelope",
        "command": "HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/envelope.py"
        + (" --quick" if args.quick else ""),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "baseline": "raw cryptography ChaCha20Poly1305 encrypt+decrypt of the same payload "
        "(118-byte AAD), same run, median of repeats",
        "notes": "floor = raw AEAD + the public-key operations and the two SHA-256 passes "
        "over the body that the mandated construction (ephemeral X25519, Ed25519 signature "
        "over header and ciphertext, verified before decryption) cannot avoid, each timed "
        "alone in this run; throughput_ratio_floor_1mib is the best ratio any implementation "
        "of it could reach here, envelope_vs_floor_1mib how close ours is to that floor.",
        "figures": figures,
        "targets": {
            "throughput_ratio_1mib": target(">= 0.8", ratio, ratio >= 0.8),
            "overhead_bytes": target("<= 200", ENVELOPE_OVERHEAD, ENVELOPE_OVERHEAD <= 200),
            "mutants_rejected": target(
                ">= 100000, all mutants",
                sweep.rejected,
                sweep.rejected >= 100_000 and sweep.rejected == sweep.mutants,
            ),
            "max_reject_ms": target("< 50", max_ms, max_ms < 50),
        },
    }
    if args.out.exists():  # keep the pytest benchmark-mode sweep, if recorded
        previous = json.loads(args.out.read_text()).get("figures", {})
        if "mutation_sweep_pytest" in previous:
            figures["mutation_sweep_pytest"] = previous["mutation_sweep_pytest"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["targets"], indent=2))
    return 0 if sweep.rejected == sweep.mutants else 1


if __name__ == "__main__":
    sys.exit(main())
