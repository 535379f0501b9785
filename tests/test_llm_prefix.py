"""Shared-prefix scoring: the same log-probs as scoring each ``context + text`` row alone.

Scores with and without reuse are compared at ``atol=1e-5`` in float32, not
for equality: with reuse the context and the texts run in separate passes
and batches of other shapes, so the same sums are accumulated in another
order (differences of a few ulps of the logits, ~1e-6 on these log-probs).
A context state served from the cache is the very tensor a fresh pass gives,
so repeated calls agree exactly. Runs on a tiny random Llama, one thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from tiny_llama import tiny_llama

from fical_secure.audit.artefact import from_samples
from fical_secure.audit.auditor import AuditConfig, AuditTarget, audit_artefact
from fical_secure.audit.signals import CachingEmbedder
from fical_secure.data.generator import generate_federation
from fical_secure.llm.prefix import ContextCache
from fical_secure.release.decision import check_release
from fical_secure.release.policy import ReleasePolicy
from fical_secure.tlu.embedding import default_embedder

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_thread")

if TYPE_CHECKING:
    from fical_secure.llm.transformers_backend import TransformersLLM

ATOL = 1e-5
CONTEXT = "Reference notes on clinical tools:\nlab_results_lookup fetches labs.\n\nExample:\n"
TEXTS = [
    " Check the HbA1c of patient 12.",
    " Book Anna for Monday 10:00 with the diabetes clinic, room 4.",
    "x",
    "",
    " canary 7f3a-91c2",
    " canary 0b11-4e2d",
]


@pytest.fixture
def tiny() -> TransformersLLM:
    return tiny_llama(
        max_len=1024, max_batch_size=4, context_cache_bytes=1 << 24, min_shared_texts=1
    )


def _both(llm: TransformersLLM, texts: list[str], contexts: list[str]) -> tuple[list, list]:
    llm.reuse_prefix = False
    plain = llm.score(texts, contexts)
    llm.reuse_prefix = True
    return plain, llm.score(texts, contexts)


def test_reuse_gives_the_scores_of_whole_rows(tiny: TransformersLLM) -> None:
    contexts = [CONTEXT] * 4 + ["", "The tool is"]
    texts = TEXTS[:4] + TEXTS[4:]
    plain, shared = _both(tiny, texts * 2, contexts + contexts[::-1])
    for a, b in zip(plain, shared, strict=True):
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=0, atol=ATOL)
    assert shared[3].size == 0 and shared[2].shape == (1,)


def test_one_token_texts_are_read_off_the_context_pass(tiny: TransformersLLM) -> None:
    candidates = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    plain, shared = _both(tiny, candidates, [CONTEXT] * len(candidates))
    np.testing.assert_allclose(np.concatenate(shared), np.concatenate(plain), rtol=0, atol=ATOL)


@pytest.mark.parametrize("reuse", [False, True])
def test_padding_does_not_change_a_score(tiny: TransformersLLM, reuse: bool) -> None:
    tiny.reuse_prefix = reuse
    short, context = " ok", CONTEXT
    (alone,) = tiny.score([short], [context])
    batch = tiny.score([short, " a far longer text " * 8, "y"], [context, context, "z" * 90])
    np.testing.assert_allclose(batch[0], alone, rtol=0, atol=ATOL)


def test_input_order_does_not_change_scores(tiny: TransformersLLM) -> None:
    contexts = [CONTEXT, "", CONTEXT, "Other notes:\n", CONTEXT, ""]
    forward = tiny.score(TEXTS, contexts)
    backward = tiny.score(TEXTS[::-1], contexts[::-1])[::-1]
    for a, b in zip(forward, backward, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=ATOL)


def test_a_text_scored_again_after_a_cached_context_is_not_run_again(
    tiny: TransformersLLM,
) -> None:
    first = tiny.score(TEXTS, [CONTEXT] * len(TEXTS))
    misses, tokens = tiny.context_cache.misses, tiny.usage.scored_tokens
    again = tiny.score(TEXTS, [CONTEXT] * len(TEXTS))
    assert tiny.context_cache.misses == misses and tiny.context_cache.hits >= 1
    assert tiny.usage.scored_tokens == tokens
    tiny.score([" a new text"], [CONTEXT])
    assert tiny.usage.scored_tokens == tokens + len(tiny.encode(" a new text"))
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)


def test_changed_weights_are_never_scored_from_a_stale_cache(tiny: TransformersLLM) -> None:
    before = tiny.score(TEXTS[:2], [CONTEXT] * 2)
    with torch.no_grad():
        tiny.model.model.layers[0].mlp.up_proj.weight.mul_(1.5)  # an in-place update
    after = tiny.score(TEXTS[:2], [CONTEXT] * 2)
    tiny.reuse_prefix = False
    fresh = tiny.score(TEXTS[:2], [CONTEXT] * 2)
    assert not np.allclose(after[0], before[0], atol=1e-3)
    for a, b in zip(fresh, after, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=ATOL)


def test_contexts_with_few_texts_run_as_whole_rows(tiny: TransformersLLM) -> None:
    tiny.min_shared_texts = 3
    contexts = [CONTEXT] * 3 + ["Other notes:\n"] * 2
    texts = TEXTS[:2] + TEXTS[4:5] + TEXTS[4:6]
    shared = tiny.score(texts, contexts)
    assert tiny.context_cache.misses == 1  # the context of three texts only
    assert tiny.usage.context_tokens == len(tiny.encode(CONTEXT)) + sum(
        len(tiny.encode(contexts[3])) for _ in range(2)
    )
    tiny.reuse_prefix = False
    plain = tiny.score(texts, contexts)
    for a, b in zip(plain, shared, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=ATOL)


def test_the_cache_stays_within_its_byte_budget(tiny: TransformersLLM) -> None:
    one = ContextCache(1 << 30)
    state = one.state(tiny.model, [5, 6, 7, 8], tiny.device)
    budget = ContextCache(2 * state.nbytes + 1)
    for n in range(5):
        budget.state(tiny.model, [5, 6, 7, 8 + n], tiny.device)
    assert len(budget) == 2 and budget.misses == 5
    nothing = ContextCache(0)
    nothing.state(tiny.model, [5, 6], tiny.device)
    assert len(nothing) == 0
    with pytest.raises(ValueError, match="max_bytes"):
        ContextCache(-1)


def test_the_audit_decides_the_same_with_and_without_reuse(tiny: TransformersLLM) -> None:
    fed = generate_federation(
        1, seed=2, episodes_per_hospital=10, nonmembers_per_hospital=10, canaries_per_hospital=1
    )
    hospital = fed.hospitals[0]
    target = AuditTarget.from_hospital(hospital, fed.manifest)
    artefact = from_samples("h01", list(hospital.members[:5]))  # a leaky artefact: raw members
    config = AuditConfig(llm_records_per_split=4, canary_candidates=15, n_bootstrap=50)
    embedder = CachingEmbedder(default_embedder())
    results = []
    for reuse in (False, True):
        tiny.reuse_prefix = reuse
        tiny.context_cache.clear()
        results.append(audit_artefact(artefact, target, embedder=embedder, llm=tiny, config=config))
    plain, shared = results
    assert {"llm_loglik", "llm_calibrated_min_k"} <= set(plain.attacks)
    assert shared.canaries and shared.canaries[0].rank == plain.canaries[0].rank
    assert shared.canaries[0].exposure_bits == pytest.approx(
        plain.canaries[0].exposure_bits, abs=1e-3
    )
    for name, attack in plain.attacks.items():
        np.testing.assert_allclose(
            shared.attacks[name].member_scores, attack.member_scores, rtol=0, atol=ATOL
        )
        assert shared.attacks[name].metrics.to_dict() == attack.metrics.to_dict()
    policy = ReleasePolicy()
    decided = [[f.to_dict() for f in check_release([r], policy)] for r in results]
    assert decided[0] == decided[1]


def test_texts_after_contexts_of_different_lengths_share_a_batch(
    tiny: TransformersLLM,
) -> None:
    contexts = ["Short:\n", CONTEXT, "Notes " * 20, "A:"] * 2
    texts = [TEXTS[0], TEXTS[1], TEXTS[4], TEXTS[5], TEXTS[5], TEXTS[0], TEXTS[1], " z"]
    tiny.max_batch_size = len(texts)
    plain, shared = _both(tiny, texts, contexts)
    assert tiny.context_cache.misses == 4  # each context once, its texts in one batch
    for a, b in zip(plain, shared, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=ATOL)


def test_texts_after_needs_a_state_per_text(tiny: TransformersLLM) -> None:
    from fical_secure.llm.prefix import texts_after

    state = tiny.context_cache.state(tiny.model, tiny.encode(CONTEXT), tiny.device)
    rows = [tiny.encode(t) for t in TEXTS[:2]]
    with pytest.raises(ValueError, match="one context state per text"):
        texts_after(tiny.model, [state], rows, 0, tiny.device)
