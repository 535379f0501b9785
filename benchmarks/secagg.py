"""Secure-aggregation benchmark, side by side with Flower's SecAgg+ code (flwr 1.41).

    .venv/bin/python benchmarks/secagg.py [--quick]

Same inputs, same run, interleaved. Flower's side calls its own functions
(``flwr.common.secure_aggregation``: ``quantize``, ``pseudo_rand_gen``,
``create_shares`` / ``combine_shares``, ``generate_shared_key``, the ndarray
arithmetic) in the order of ``secaggplus_mod._collect_masked_vectors`` and
``SecAggPlusWorkflow.unmask_stage``; ours calls the code the protocol runs
(``FixedPoint.encode``, ``MaskAccumulator``, ``MaskKey.pairwise_seed``,
``shamir.split`` / ``combine``) and, for server unmasking and communication,
complete in-process rounds of :func:`run_secagg_round`.
Writes ``benchmarks/results/secagg.json``.
"""

# ruff: noqa: B023  (every lambda here is timed at once, inside its loop iteration)
from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.envelope import machine  # noqa: E402
from fical_secure.aggregate.anonymous import SlotLayout  # noqa: E402
from fical_secure.aggregate.fixedpoint import FixedPoint  # noqa: E402
from fical_secure.aggregate.threshold import (  # noqa: E402
    EXPECTED_DISTINCT,
    ThresholdLayout,
    decode_entries,
    encode_counts,
    encode_entries,
    select_buckets,
)
from fical_secure.atomic import write_json_atomic  # noqa: E402
from fical_secure.crypto import shamir  # noqa: E402
from fical_secure.crypto.masking import MaskAccumulator, MaskKey, MaskKind  # noqa: E402
from fical_secure.pipeline.secagg_round import anonymous_multiset  # noqa: E402
from fical_secure.protocol.secagg import Federation, run_secagg_round  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "secagg.json"
CTX = bytes(32)


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# --- Flower's side -------------------------------------------------------------
def _flower() -> Any:
    import flwr.common.secure_aggregation.ndarrays_arithmetic as arith
    from flwr.common.secure_aggregation.crypto import shamir as fshamir
    from flwr.common.secure_aggregation.crypto.symmetric_encryption import generate_shared_key
    from flwr.common.secure_aggregation.quantization import quantize
    from flwr.common.secure_aggregation.secaggplus_utils import pseudo_rand_gen
    from flwr.supercore.primitives import asymmetric

    return arith, fshamir, generate_shared_key, quantize, pseudo_rand_gen, asymmetric


def flower_client_mask(vec: np.ndarray, neighbours: list[Any], sk1: Any, seed: bytes) -> Any:
    """secaggplus_mod._collect_masked_vectors from quantisation to the masked vector."""
    arith, _, shared_key, quantize, prg, _ = _flower()
    q_ratio, qrange, mod = 1000, 4194304, 1 << 32
    params = arith.parameters_multiply([vec], q_ratio / qrange)
    q = arith.factor_combine(q_ratio, quantize(params, 8.0, qrange))
    dims = [a.shape for a in q]
    q = arith.parameters_addition(q, prg(seed, mod, dims))
    for i, pub in enumerate(neighbours):
        mask = prg(shared_key(sk1, pub), mod, dims)
        q = (arith.parameters_addition if i % 2 else arith.parameters_subtraction)(q, mask)
    return arith.parameters_mod(q, mod)


def ours_client_mask(
    vec: np.ndarray, neighbours: list[bytes], key: MaskKey, seed: bytes, fixed: FixedPoint
) -> np.ndarray:
    """SecAggClient.masked_input's masking: encode, self mask, pairwise masks."""
    x = fixed.encode(vec, 1)
    acc = MaskAccumulator(x.size, 32, CTX)
    acc.add_vector(x)
    acc.add(seed, MaskKind.SELF)
    for i, pub in enumerate(neighbours):
        (acc.add if i % 2 else acc.subtract)(key.pairwise_seed(pub, CTX), MaskKind.PAIRWISE)
    return acc.reduced()


def client_masking(ds: list[int], ks: list[int], repeats: int) -> dict[str, Any]:
    _, _, _, _, _, asym = _flower()
    rng = np.random.default_rng(0)
    rows: dict[str, Any] = {}
    for d in ds:
        vec = rng.normal(0, 1, d)
        fixed = FixedPoint(clip=8.0, level_bits=16, n_clients=100)
        for k in ks:
            f_sk = asym.generate_key_pairs()[0]
            f_pubs = [asym.generate_key_pairs()[1] for _ in range(k)]
            o_key, o_pubs = (
                MaskKey.generate(),
                [MaskKey.generate().public_bytes() for _ in range(k)],
            )
            seed = os.urandom(32)
            flower = _median_s(lambda: flower_client_mask(vec, f_pubs, f_sk, seed), repeats)
            ours = _median_s(lambda: ours_client_mask(vec, o_pubs, o_key, seed, fixed), repeats)
            rows[f"d={d},neighbours={k}"] = {
                "flower_s": round(flower, 4),
                "ours_s": round(ours, 4),
                "speedup": round(flower / ours, 2),
            }
            print(f"client mask d={d} k={k}: flower {flower:.3f}s ours {ours:.3f}s", flush=True)
    return rows


def shamir_costs(holders: list[int], repeats: int) -> dict[str, Any]:
    _, fshamir, _, _, _, asym = _flower()
    rows: dict[str, Any] = {}
    for n in holders:
        t = n // 2 + 1
        seed = os.urandom(32)
        sk1 = asym.private_key_to_bytes(asym.generate_key_pairs()[0])
        f_split = _median_s(lambda: [fshamir.create_shares(s, t, n) for s in (seed, sk1)], repeats)
        f_shares = fshamir.create_shares(sk1, t, n)
        f_combine = _median_s(lambda: fshamir.combine_shares(f_shares[:t]), repeats)
        mask = MaskKey.generate().export_for_sharing()
        xs = list(range(1, n + 1))
        o_split = _median_s(lambda: shamir.split([seed, mask], xs, t), repeats)
        shares = shamir.split([mask], xs, t)[0]
        ctx = {s.x: b"ctx%d" % s.x for s in shares}
        com = {s.x: shamir.commit_share(s, ctx[s.x]) for s in shares}
        o_combine = _median_s(
            lambda: shamir.combine(
                shares[:t], threshold=t, secret_len=32, contexts=ctx, commitments=com
            ),
            repeats,
        )
        rows[f"holders={n},t={t}"] = {
            "flower_split_2_secrets_s": round(f_split, 4),
            "ours_split_2_secrets_s": round(o_split, 5),
            "flower_combine_1_s": round(f_combine, 4),
            "ours_combine_1_verified_s": round(o_combine, 5),
            "split_speedup": round(f_split / o_split, 1),
            "combine_speedup": round(f_combine / o_combine, 1),
        }
        print(f"shamir n={n}: {rows[f'holders={n},t={t}']}", flush=True)
    return rows


def _round(n: int, d: int, drop: float, seed: int = 0) -> dict[str, Any]:
    """A full in-process round; times the server's unmask stage and counts bytes."""
    # the driver runs clients one after another: stage deadlines must cover n clients
    fed = Federation.create(n, bits=32, length=d, timeouts_s=(3600,) * 5)
    ids = fed.server.params.participants
    rng = np.random.default_rng(seed)
    inputs = {c: rng.integers(0, 1 << 16, d, dtype=np.uint64).astype(np.uint32) for c in ids}
    dropped = set(random.Random(seed).sample(ids, round(drop * n)))
    timing: dict[str, float] = {}
    real_unmask = fed.server.unmask

    def timed_unmask(replies: Any) -> Any:
        start = time.perf_counter()
        out = real_unmask(replies)
        timing["unmask"] = time.perf_counter() - start
        return out

    fed.server.unmask = timed_unmask  # type: ignore[method-assign]
    start = time.perf_counter()
    out = run_secagg_round(fed, inputs, dropouts={2: dropped})
    wall = time.perf_counter() - start
    want = sum((inputs[c].astype(np.uint64) for c in out.survivors), np.zeros(d, np.uint64))
    exact = bool(np.array_equal(out.total, (want % (1 << 32)).astype(np.uint32)))
    return {
        "graph": fed.server.params.describe(),
        "dropped": len(dropped),
        "server_unmask_s": round(timing["unmask"], 3),
        "round_wall_s": round(wall, 2),
        "exact_sum": exact,
        "upload_bytes_per_client": round(out.upload_bytes / n),
        "download_bytes_per_client": round(out.download_bytes / n),
        # every client's messages / a plain upload of d 32-bit words by each survivor
        "expansion_upload_vs_plain": round(out.upload_bytes / (len(out.survivors) * 4 * d), 4),
    }


def flower_unmask_estimate(n: int, k: int, d: int, dropped: int, repeats: int) -> dict[str, Any]:
    """Flower's unmask_stage cost: survivors x (combine + PRG) + dropped x (combine + k x
    (ECDH + PRG)), each operation's median measured here (estimate, not a full run)."""
    arith, fshamir, shared_key, _, prg, asym = _flower()
    t = (k + 1) // 2 + 1
    sk1_priv, pub = asym.generate_key_pairs()
    sk1 = asym.private_key_to_bytes(sk1_priv)
    shares = fshamir.create_shares(sk1, t, k + 1)
    seed_shares = fshamir.create_shares(os.urandom(32), t, k + 1)
    vec = [np.zeros(d, dtype=np.int64)]
    dims = [(d,)]
    comb_seed = _median_s(lambda: fshamir.combine_shares(seed_shares[:t]), repeats)
    comb_sk = _median_s(lambda: fshamir.combine_shares(shares[:t]), repeats)
    mask = _median_s(
        lambda: arith.parameters_subtraction(vec, prg(b"\1" * 32, 1 << 32, dims)), repeats
    )
    ecdh = _median_s(lambda: shared_key(asym.bytes_to_private_key(sk1), pub), repeats)
    survivors = n - dropped
    total = survivors * (comb_seed + mask) + dropped * (comb_sk + k * (ecdh + mask))
    from flwr.common import ndarray_to_bytes

    # Flower's stage-2 reply carries the masked vector as int64 ndarray bytes
    flower_vector = len(ndarray_to_bytes(np.zeros(d + 1, dtype=np.int64)))
    return {
        "flower_server_unmask_s_estimated": round(total, 2),
        "flower_masked_vector_bytes": flower_vector,
        "flower_masked_vector_expansion_vs_plain": round(flower_vector / (4 * d), 4),
        "per_op_s": {
            "combine_seed": comb_seed,
            "combine_sk1": comb_sk,
            "prg_and_subtract": mask,
            "ecdh_hkdf": ecdh,
        },
    }


def compendium(n: int, entries: int) -> dict[str, Any]:
    rng = random.Random(5)
    words = "dose ward allergy lab code unit patient form field name date triage bed".split()
    pool = [
        f"Tool t{i % 12} usage: " + " ".join(rng.choices(words, k=rng.randint(20, 50)))
        for i in range(300)
    ]
    first = Federation.create(n, bits=32, length=1, timeouts_s=(3600,) * 5)
    ids = first.server.params.participants
    items = {}
    for i, c in enumerate(ids):
        shared = rng.sample(pool, entries * 3 // 5)
        own = [
            f"client-specific {i}-{j}: " + " ".join(rng.choices(words, k=25))
            for j in range(entries - len(shared))
        ]
        items[c] = [json.dumps(["entry", "t", "usage", s]).encode() for s in shared + own]
    layout = SlotLayout(n_clients=n, max_items=entries, max_item_bytes=512)
    start = time.perf_counter()
    result = anonymous_multiset(first, items, layout)
    wall = time.perf_counter() - start
    want: dict[bytes, int] = {}
    for v in items.values():
        for it in set(v):
            want[it] = want.get(it, 0) + 1
    plain = sum(len(i) for v in items.values() for i in v) / n
    return {
        "clients": n,
        "entries_per_client": entries,
        "exact_multiset": dict(result.items) == want,
        "attempts": result.attempts,
        "slot_vector_words": layout.length,
        "upload_bytes_per_client": round(result.upload_bytes / n),
        "plain_upload_bytes_per_client": round(plain),
        "seconds": round(wall, 1),
    }


def _federation_items(n: int, entries: int) -> tuple[Federation, dict[bytes, list[bytes]]]:
    """``n`` hospitals x ``entries`` items: 3/5 drawn from a shared pool of 300, the rest own."""
    rng = random.Random(5)
    words = "dose ward allergy lab code unit patient form field name date triage bed".split()
    pool = [
        f"Tool t{i % 12} usage: " + " ".join(rng.choices(words, k=rng.randint(20, 50)))
        for i in range(300)
    ]
    first = Federation.create(n, bits=32, length=1, timeouts_s=(3600,) * 5)
    items = {}
    for i, c in enumerate(first.server.params.participants):
        shared = rng.sample(pool, entries * 3 // 5)
        own = [
            f"client-specific {i}-{j}: " + " ".join(rng.choices(words, k=25))
            for j in range(entries - len(shared))
        ]
        items[c] = [json.dumps(["entry", "t", "usage", s]).encode() for s in shared + own]
    return first, items


def anonymous_threshold(
    sizes: list[int], entries: int, k: int, expected_distinct: tuple[int, ...]
) -> dict[str, Any]:
    """Two-pass thresholded multiset against the one-pass slot vector, same items, same run.

    The first ``expected_distinct`` is the ``two_pass_threshold`` row (the targets); each
    other is a row of its own (``two_pass_threshold_expected_<n>``: e.g. the shipped default).
    """
    rows: dict[str, Any] = {}
    for n in sizes:
        first, items = _federation_items(n, entries)
        held: Counter[bytes] = Counter()
        for v in items.values():
            held.update(set(v))
        want = Counter({i: c for i, c in held.items() if c >= k})
        row: dict[str, Any] = {
            "hospitals": n,
            "entries_per_hospital": entries,
            "k": k,
            "distinct_items": len(held),
            "items_at_k": len(want),
        }
        one = SlotLayout(n_clients=n, max_items=entries, max_item_bytes=512)
        layouts: list[tuple[str, SlotLayout | ThresholdLayout]] = [("one_pass_slot_vector", one)]
        for m, distinct in enumerate(expected_distinct):
            name = "two_pass_threshold" + (f"_expected_{distinct}" if m else "")
            layouts.append((name, ThresholdLayout(n, k, entries, 512, expected_distinct=distinct)))
        for name, layout in layouts:
            start = time.perf_counter()
            result = anonymous_multiset(first, items, layout)
            wall = time.perf_counter() - start
            got = Counter(result.items)
            target = held if isinstance(layout, SlotLayout) else want
            row[name] = {
                "masked_input_bytes_per_hospital": result.upload_bytes_per_client,
                "all_messages_upload_bytes_per_hospital": round(result.upload_bytes / n),
                "secagg_rounds": result.attempts,
                "seconds": round(wall, 1),
                "exact": got == target,
                "missing_items": len(set(target) - set(got)),
                "items_below_k_decoded": sum(1 for i in got if held[i] < k),
                "wrong_counts": sum(1 for i in got if i in target and got[i] != target[i]),
            }
            if isinstance(layout, ThresholdLayout):
                row[name]["missing_items_over_20_fresh_keys_plain_sums"] = _loss(
                    items, layout, want, 20
                )
                row[name]["buckets_per_table"] = layout.buckets
                row[name]["selected_slots"] = (
                    result.upload_bytes_per_client // 4 - layout.count_length
                ) // layout.slot.slot_words
                row[name]["expected_distinct"] = layout.expected_distinct
            print(f"anonymous n={n} {name}: {row[name]}", flush=True)
        rows[f"hospitals={n}"] = row
    return rows


def _loss(
    items: dict[bytes, list[bytes]], layout: ThresholdLayout, want: Counter[bytes], keys: int
) -> dict[str, float]:
    """Items at k lost to shared buckets over ``keys`` fresh keys: the same encodings and
    decoding summed in the clear (the sum SecAgg+ would unmask), for a rate, not one draw."""
    lost = below = 0
    for _ in range(keys):
        key = os.urandom(32)
        total = sum(encode_counts(v, layout, key).astype(np.int64) for v in items.values())
        chosen = select_buckets((total % (1 << 32)).astype(np.uint32), layout, key, len(items))
        entries = sum(encode_entries(v, layout, chosen).astype(np.int64) for v in items.values())
        vector = (np.asarray(entries) % (1 << 32)).astype(np.uint32)
        got = decode_entries(vector, layout, chosen, len(items)).items
        lost += len(set(want) - set(got))
        below += sum(1 for i in got if i not in want)
    return {
        "keys": keys,
        "items_at_k_per_key": len(want),
        "lost_per_key": lost / keys,
        "lost_fraction": round(lost / (keys * max(1, len(want))), 6),
        "below_k_decoded": below,
    }


SECTIONS = ("client_masking", "shamir", "rounds", "anonymous_compendium", "anonymous_threshold")


DEFAULT_SIZES = "10x10000,10x100000,10x1000000,100x10000,100x100000,1000x100000"


def run_sections(
    sections: list[str],
    quick: bool,
    sizes: list[tuple[int, int]],
    figures: dict[str, Any],
    save: Callable[[], None],
) -> None:
    """Measure the chosen sections into ``figures``, saving after every row."""
    reps = 1 if quick else 3
    if "client_masking" in sections:
        figures["client_masking"] = client_masking(
            [10**4] if quick else [10**4, 10**5, 10**6], [9] if quick else [9, 28, 99], reps
        )
        save()
    if "shamir" in sections:
        figures["shamir"] = shamir_costs([10] if quick else [10, 29, 100], reps)
        save()
    if "rounds" in sections:
        rounds = figures.setdefault("rounds", {})
        for n, d in sizes:
            row = _round(n, d, 0.1)
            params = Federation.create(n, bits=32, length=1).server.params
            row.update(flower_unmask_estimate(n, params.k, d, round(0.1 * n), reps))
            rounds[f"n={n},d={d}"] = row
            print(f"round n={n} d={d}: {row}", flush=True)
            save()
    if "anonymous_threshold" in sections:
        figures["anonymous_threshold"] = anonymous_threshold(
            [10] if quick else [10, 100], 50, 2, (2048, EXPECTED_DISTINCT)
        )
        save()
    if "anonymous_compendium" in sections:
        figures["anonymous_compendium"] = compendium(10 if quick else 100, 10 if quick else 50)
        print(figures["anonymous_compendium"], flush=True)
        save()


def _result(figures: dict[str, Any], commands: list[str]) -> dict[str, Any]:
    key = "d=1000000,neighbours=99"
    speedup = figures.get("client_masking", {}).get(key, {}).get("speedup")
    unmask = figures.get("rounds", {}).get("n=1000,d=100000", {}).get("server_unmask_s")
    at100 = figures.get("anonymous_threshold", {}).get("hospitals=100", {})
    two = at100.get("two_pass_threshold", {})
    up100 = two.get("masked_input_bytes_per_hospital")
    return {
        "benchmark": "secagg",
        "command": "; ".join(commands),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "baseline": "Flower 1.41 SecAgg+ functions (flwr.common.secure_aggregation), same inputs,"
        " same run; communication against a plain upload of d 32-bit words; the anonymous"
        " threshold rows against the one-pass slot vector (today's multiset) on the same items"
        " in the same run",
        "figures": figures,
        "targets": {
            "client_mask_speedup_vs_flower": {
                "target": ">= 3 at d = 10^6, n = 100 (99 neighbours), cryptographic PRG",
                "measured": speedup,
                "met": speedup is not None and speedup >= 3,
            },
            "anonymous_threshold_upload_per_hospital_at_100_bytes": {
                "target": "<= 1,000,000 (100 hospitals x 50 entries, both passes)",
                "measured": up100,
                "met": up100 is not None and up100 <= 1_000_000,
            },
            "anonymous_threshold_exact_at_100": {
                "target": "exactly the entries >= k hospitals hold, with their counts",
                "measured": two.get("exact"),
                "met": two.get("exact") is True,
            },
            "anonymous_threshold_no_entry_below_k_at_100": {
                "target": "0 entries below k decoded",
                "measured": two.get("items_below_k_decoded"),
                "met": two.get("items_below_k_decoded") == 0,
            },
            "server_unmask_n1000_d1e5_s": {
                "target": "< 60 s on 2 cores",
                "measured": unmask,
                "met": unmask is not None and unmask < 60,
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="comma-separated subset of " + ", ".join(SECTIONS) + " (others are kept from the"
        " existing results file, and the commands that produced them are listed)",
    )
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="rounds: NxD,NxD,...")
    args = parser.parse_args()
    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections: {unknown}")
    sizes = [(int(a), int(b)) for a, b in (x.split("x") for x in args.sizes.split(","))]
    if args.quick:
        sizes = [(10, 10**4)]
    command = "benchmarks/secagg.py" + (" --quick" if args.quick else "")
    if sorted(sections) != sorted(SECTIONS):
        command += " --sections " + ",".join(sections)
    if args.sizes != DEFAULT_SIZES:
        command += " --sizes " + args.sizes
    previous: dict[str, Any] = {}
    if not args.quick and RESULTS.exists():
        previous = json.loads(RESULTS.read_text(encoding="utf-8"))
    figures = dict(previous.get("figures", {}))
    commands = [c for c in previous.get("command", "").split("; ") if c and c != command]
    commands.append(command)

    def save() -> None:
        if not args.quick:
            write_json_atomic(RESULTS, _result(figures, commands))

    run_sections(sections, args.quick, sizes, figures, save)
    print(json.dumps(_result(figures, commands)["targets"], indent=2))


if __name__ == "__main__":
    main()
