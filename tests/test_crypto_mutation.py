"""Mutation sweep: every mutant of a valid envelope raises exactly InvalidEnvelope, fast.

Default run: ~5,700 mutants (exhaustive bit flips and truncations of 0 B and
17 B envelopes; every header/tag/signature bit, sampled body bits and
truncations of a 1 MiB one; appended bytes; every header field at boundary
values, unsigned and re-signed). Benchmark mode (``pytest -m bench``): over
100,000 mutants, figures merged into
benchmarks/results/envelope.json under "mutation_sweep_pytest".

The 50 ms bound is checked on thread CPU time: on the shared 2-core CI machine
wall time also counts time spent descheduled, which says nothing about the
code. Wall times are recorded in the benchmark figures.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import envelope_mutants as mutation
from fical_secure.crypto.envelope import EnvelopeContext, open_envelope, seal
from fical_secure.crypto.keys import IdentityKey, RoundKey
from fical_secure.errors import InvalidEnvelope

REJECT_BOUND_MS = 50.0
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "envelope.json"

SENDER, RECIPIENT = IdentityKey.generate(), RoundKey.generate()
CONTEXT = EnvelopeContext(round_id=5, stage=2, config_hash=bytes(32))


def _seal(payload: bytes) -> bytes:
    return seal(
        payload,
        sender=SENDER,
        recipient_public=RECIPIENT.public_bytes(),
        recipient_key_id=RECIPIENT.key_id,
        context=CONTEXT,
    )


def _open(blob: bytes) -> bytes:
    return open_envelope(blob, recipient=RECIPIENT, sender_public=SENDER.public, context=CONTEXT)


def _assert_all_rejected(result: mutation.SweepResult) -> None:
    assert result.accepted == [], f"accepted mutants: {result.accepted[:5]}"
    assert result.wrong_error == [], f"other exceptions: {result.wrong_error[:5]}"
    assert result.rejected == result.mutants
    assert max(result.cpu_ms) < REJECT_BOUND_MS


def test_every_default_sweep_mutant_is_rejected_quickly() -> None:
    result = mutation.run_plan(mutation.DEFAULT_PLAN, seed=2024)
    assert result.mutants >= 5000
    _assert_all_rejected(result)


def test_every_header_field_at_every_boundary_value_is_rejected() -> None:
    blob = _seal(b"boundary")
    unsigned = list(mutation.header_boundary_mutants(blob))
    resigned = list(mutation.header_boundary_mutants(blob, resign_as=SENDER))
    fields = {label.split("=")[0] for label, _ in unsigned}
    assert fields == {name for name, _, _ in mutation.HEADER_FIELDS}
    assert len(resigned) == len(unsigned) >= 30
    _assert_all_rejected(mutation.run_sweep(unsigned + resigned, _open))


@settings(max_examples=150, deadline=None)
@given(
    payload=st.binary(max_size=512),
    data=st.data(),
)
def test_random_edits_of_an_envelope_are_rejected(payload: bytes, data: st.DataObject) -> None:
    blob = _seal(payload)
    start = data.draw(st.integers(0, len(blob) - 1))
    end = data.draw(st.integers(start, min(len(blob), start + 8)))
    replacement = data.draw(st.binary(max_size=8))
    mutant = blob[:start] + replacement + blob[end:]
    if mutant == blob:
        return
    with pytest.raises(InvalidEnvelope) as info:
        _open(mutant)
    assert type(info.value) is InvalidEnvelope


@pytest.mark.bench
def test_benchmark_sweep_of_100k_mutants_rejects_all() -> None:
    result = mutation.run_plan(mutation.BENCH_PLAN, seed=2025)
    assert result.mutants >= 100_000
    _assert_all_rejected(result)
    _merge_figures(result)


def _merge_figures(result: mutation.SweepResult) -> None:
    """Record the sweep in benchmarks/results/envelope.json, keeping other figures."""
    record: dict[str, Any] = (
        json.loads(RESULTS.read_text()) if RESULTS.exists() else {"benchmark": "envelope"}
    )
    record.setdefault("figures", {})["mutation_sweep_pytest"] = {
        **result.figures(),
        "command": "python -m pytest -q -m bench tests/test_crypto_mutation.py",
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.python_version()}",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
