"""Parameter FL (LoRA FedAvg with parameter isolation) on a tiny random Llama: fast, CPU, offline.

The model is a 2-layer LlamaForCausalLM built from a config (random weights,
seeded) over a character-level tokenizer built in memory: nothing is
downloaded, and every figure is deterministic.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from leakage_records import leakage_record
from tiny_llama import tiny_llama

from fical_secure.attacks import parameter_fl as pfl
from fical_secure.attacks import parameter_fl_audit as audit
from fical_secure.attacks.communication import (
    SMOLLM2_135M,
    Architecture,
    MeasuredAdapter,
    communication,
)
from fical_secure.attacks.summary import summary_markdown
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Federation
from fical_secure.errors import ConfigError

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

if TYPE_CHECKING:
    from fical_secure.llm.transformers_backend import TransformersLLM

TINY = Architecture("tiny-llama", 64, 128, 2, 4, 2, 0, True)  # vocab filled in by the fixture
FAST = pfl.ParameterFLConfig(rank=4, alpha=8, rounds=2, epochs=1, batch_size=5, lr=5e-2)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread: a tiny model gains nothing from two, and on shared cores the
    second thread spins waiting for the first (several times the CPU time)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny() -> TransformersLLM:
    arch = TINY
    return tiny_llama(
        hidden=arch.hidden,
        intermediate=arch.intermediate,
        layers=arch.layers,
        heads=arch.heads,
        kv_heads=arch.kv_heads,
    )


@pytest.fixture(scope="module")
def federation() -> Federation:
    return generate_federation(
        2, seed=3, episodes_per_hospital=10, nonmembers_per_hospital=10, eval_per_tool=1
    )


def _state(seed: int, keys: tuple[str, ...] = ("a", "b")) -> pfl.State:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(3, 5, generator=g) for k in keys}


def test_fedavg_is_the_example_weighted_mean_of_the_updates() -> None:
    states, weights = [_state(1), _state(2), _state(3)], [3, 5, 12]
    average = pfl.fedavg(states, weights)
    for key in ("a", "b"):
        stacked = np.stack([s[key].numpy().astype(np.float64) for s in states])
        expected = np.tensordot(np.array(weights, dtype=np.float64), stacked, axes=1) / 20
        assert torch.equal(average[key], torch.from_numpy(expected.astype(np.float32)))
    assert not torch.equal(average["a"], pfl.fedavg(states, [1, 1, 1])["a"])  # weights matter


@pytest.mark.parametrize(
    ("states", "weights"),
    [([], []), ([_state(1)], [0]), ([_state(1), _state(2, ("a", "c"))], [1, 1])],
)
def test_fedavg_refuses_empty_unweighted_or_mismatched_updates(
    states: list[pfl.State], weights: list[int]
) -> None:
    with pytest.raises(ConfigError):
        pfl.fedavg(states, weights)


def test_upload_is_safetensors_of_exactly_the_computed_lora_parameters(
    tiny: TransformersLLM,
) -> None:
    adapted = pfl.with_adapters(tiny, FAST)
    state = pfl.get_state(adapted, pfl.GLOBAL)
    payload = pfl.serialize(state, "bfloat16")
    (header_len,) = struct.unpack("<Q", payload[:8])
    header = json.loads(payload[8 : 8 + header_len])
    n_params = sum(v.numel() for v in state.values())
    arch = dataclasses.replace(TINY, vocab=len(tiny.tokenizer))
    assert n_params == arch.lora_parameters(FAST.rank)  # communication.py's formula
    assert len(payload) == 8 + header_len + 2 * n_params  # bf16 tensors + the header only
    assert {k for k in header if k != "__metadata__"} == set(state)
    back = pfl.deserialize(payload)
    assert all(torch.equal(back[k], state[k].bfloat16().float()) for k in state)
    with pytest.raises(ConfigError):
        pfl.deserialize(b"not a safetensors file")


def test_adapters_leave_the_callers_model_untouched(tiny: TransformersLLM) -> None:
    before = sum(1 for _ in tiny.model.named_modules())
    pfl.with_adapters(tiny, FAST)
    assert sum(1 for _ in tiny.model.named_modules()) == before
    assert not any("lora_" in n for n, _ in tiny.model.named_parameters())


def _bf16_bytes(tensor: Any) -> bytes:
    return bytes(tensor.bfloat16().contiguous().view(torch.uint8).numpy().tobytes())


def test_a_client_sends_its_global_adapter_and_never_its_local_one(
    tiny: TransformersLLM, federation: Federation
) -> None:
    adapted = pfl.with_adapters(tiny, FAST)
    initial = {a: pfl.get_state(adapted, a) for a in (pfl.GLOBAL, pfl.LOCAL)}
    run = pfl.run_parameter_fl(federation.hospitals, adapted, FAST)
    last = federation.hospitals[-1].hospital_id
    payload = run.sent[-1][last]
    # the model still holds the last client's adapters: what it sent, and what it kept
    sent, kept = pfl.get_state(adapted, pfl.GLOBAL), pfl.get_state(adapted, pfl.LOCAL)
    assert set(pfl.deserialize(payload)) == set(sent) == set(kept)
    for adapter, now in ((pfl.GLOBAL, sent), (pfl.LOCAL, kept)):  # both adapters trained
        assert not any(torch.equal(now[k], v) for k, v in initial[adapter].items())
    assert all(_bf16_bytes(t) in payload for t in sent.values())  # positive control
    assert not any(_bf16_bytes(t) in payload for t in kept.values())
    assert all(torch.equal(kept[k], run.local[last][k]) for k in kept)
    for rnd in run.sent:  # every upload of every round is one global adapter, same size
        assert {len(p) for p in rnd.values()} == {len(payload)}
    sizes = run.bytes_per_client_round()
    assert sizes == {h.hospital_id: [len(payload)] * FAST.rounds for h in federation.hospitals}


def test_training_lowers_the_members_loss(tiny: TransformersLLM, federation: Federation) -> None:
    config = dataclasses.replace(FAST, rounds=1, epochs=3)
    adapted = pfl.with_adapters(tiny, config)
    hospital = federation.hospitals[0]
    pairs = pfl.training_pairs(tiny, hospital.members)
    before = audit.record_losses(adapted, pairs)
    assert np.allclose(before, audit.record_losses(tiny, pairs), atol=1e-5)  # B = 0 at start
    pfl.run_parameter_fl([hospital], adapted, config)
    after = audit.record_losses(adapted, pairs)
    assert after.mean() < 0.8 * before.mean()
    assert np.all(after < before)


def _attack(
    tiny: TransformersLLM, federation: Federation, trained_on: list[Any]
) -> audit.ClientMembership:
    """The LOSS attack on client 0's records when its update was trained on ``trained_on``."""
    # one client, full batches, enough epochs for the 2-layer model to memorise 10 records
    config = pfl.ParameterFLConfig(rank=8, alpha=16, rounds=1, epochs=80, batch_size=10, lr=2e-2)
    target = federation.hospitals[0]
    client = dataclasses.replace(target, members=trained_on)
    adapted = pfl.with_adapters(tiny, config)
    run = pfl.run_parameter_fl([client], adapted, config)
    only = dataclasses.replace(federation, hospitals=[target])
    (result,) = audit.membership(
        only, tiny, adapted, run, target_fpr=0.01, permutations=199, seed=0
    )
    return result


def test_loss_attack_finds_the_members_an_update_was_trained_on(
    tiny: TransformersLLM, federation: Federation
) -> None:
    members = federation.hospitals[0].members
    others = federation.hospitals[1].members  # neither members nor non-members of client 0
    trained = _attack(tiny, federation, list(members)).test
    untrained = _attack(tiny, federation, list(others)).test
    assert trained.auc >= 0.8 and trained.auc_p < 0.05  # measured 0.89
    assert 0.2 <= untrained.auc <= 0.8 and untrained.auc_p > 0.05  # measured 0.40


def test_row_has_measured_figures_and_null_text_figures_with_a_note(
    tiny: TransformersLLM, federation: Federation
) -> None:
    row = audit.parameter_fl_row(federation, tiny, FAST, permutations=99, progress=False)
    assert row["bytes_per_client"] == FAST.rounds * row["bytes_per_client_round"] > 0
    assert 0.0 <= row["mia_auc"]["value"] <= 1.0 and row["mia_auc"]["attack"] == audit.ATTACK
    assert row["tpr_at_low_fpr"]["fpr"] == pytest.approx(0.1)  # 1 of 10 non-members
    for key in ("canary_exposure_bits", "verbatim_pii", "rougeL_extraction"):
        assert row[key] is None
    assert "not run" in row["note"]
    n = len(federation.eval_requests)
    assert row["tool_accuracy"]["n_requests"] == row["tool_accuracy_base_model"]["n_requests"] == n
    assert set(row["membership_by_client"]) == {h.hospital_id for h in federation.hospitals}
    assert row["parameter_fl"]["base_parameters"] == sum(p.numel() for p in tiny.model.parameters())


def test_communication_records_the_measured_adapter_where_the_architecture_matches() -> None:
    per_param = SMOLLM2_135M.lora_parameters(8)
    measured = MeasuredAdapter(2 * per_param + 31320, per_param, SMOLLM2_135M.parameters())
    out = communication({"compendium_hardened": 314}, measured=measured)
    check = out["SmolLM2-135M-Instruct"]["lora_measured"]
    assert check["parameters_agree"] and check["base_parameters_agree"]
    assert check["header_bytes"] == 31320
    assert out["SmolLM2-135M-Instruct"]["bytes_per_client"]["lora_adapter_measured"] == (
        2 * per_param + 31320
    )
    assert "lora_measured" not in out["Llama-3.1-8B"]
    assert "lora_adapter_measured" not in out["Llama-3.1-8B"]["bytes_per_client"]


def test_summary_renders_a_row_whose_text_figures_are_null() -> None:
    row = {
        "mia_auc": {"value": 0.61, "ci95": [0.4, 0.8]},
        "tool_accuracy": {"value": 0.3, "ci95": [0.2, 0.4]},
        "tool_accuracy_base_model": {"value": 0.25, "ci95": [0.15, 0.35]},
        "canary_exposure_bits": None,
        "verbatim_pii": None,
        "bytes_per_client": 100,
        "note": audit.NOT_APPLICABLE,
        "parameter_fl": {"seconds": {"total": 12.0}},
    }
    text = summary_markdown(leakage_record({"parameter_fl": row}, {}))
    line = next(x for x in text.splitlines() if x.startswith("| parameter_fl |"))
    assert "n/a" in line and "0.610" in line
    assert "0.250" in text and "not run" in text


def test_runner_keeps_the_adapter_out_of_the_text_modes_bytes() -> None:
    from fical_secure.attacks.runner import _communication

    lora = SMOLLM2_135M.lora_parameters(8)
    rows = {
        "compendium_hardened": {"bytes_per_client": 314},
        "sample_sharing": {"bytes_per_client": 7868},
        "parameter_fl": {
            "bytes_per_client": 2 * (2 * lora + 100),
            "bytes_per_client_round": 2 * lora + 100,
            "parameter_fl": {
                "lora_parameters": lora,
                "base_parameters": SMOLLM2_135M.parameters(),
                "wire_dtype": "bfloat16",
                "rank": 8,
            },
        },
    }
    out = _communication(rows)["SmolLM2-135M-Instruct"]
    assert "parameter_fl" not in out["bytes_per_client"]
    assert out["bytes_per_client"]["lora_adapter_measured"] == 2 * lora + 100
    assert out["lora_measured"]["parameters_agree"] and out["lora_measured"]["header_bytes"] == 100


def test_bad_parameter_fl_rounds_are_refused_before_anything_runs(tmp_path: Any) -> None:
    from fical_secure.attacks.runner import AttackSettings, run_attacks

    with pytest.raises(ConfigError, match="rounds"):
        run_attacks(AttackSettings(out=tmp_path, parameter_fl_rounds=0))
    assert not any(tmp_path.iterdir())


def test_leakage_plot_marks_the_model_choice_row_and_skips_rows_without_figures(
    tmp_path: Any,
) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from fical_secure.attacks import plots

    cell = {"value": 0.5, "ci95": [0.4, 0.6]}
    rows = {
        "sample_sharing": {
            "mia_auc": cell,
            "tool_accuracy": {**cell, "method": "MiniLM retrieval"},
        },
        "parameter_fl": {
            "mia_auc": cell,
            "tool_accuracy": audit.accuracy_figure([True], audit.UTILITY_METHOD),
        },
        "compendium_hardened": {"mia_auc": None, "tool_accuracy": cell},
    }
    seen: list[str] = []
    real = plt.Axes.errorbar

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(f"{kwargs['label']}|{kwargs['fmt']}")
        return real(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plt.Axes, "errorbar", spy)
        name = plots.leakage_vs_utility_png(rows, tmp_path)
    assert (tmp_path / name).stat().st_size > 0
    assert seen == ["sample_sharing|o", "parameter_fl (model's choice, not retrieval)|s"]
