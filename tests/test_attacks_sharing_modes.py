"""The two modes beside sample and compendium sharing: FedPIT synthetic sharing, secagg pooling.

Synthetic sharing runs here on stand-in models (:class:`fake_llm.CopyingLLM`,
and a parrot that repeats its last shot): what is tested is what the mode
does with the model's output (prompts from the client's own members, shots
varied and seeded, the output shared as written), which does not depend on
the packaged model. The pooled mode runs the real secure-aggregation round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from fake_llm import CopyingLLM

from fical_secure.attacks.context import ModeContext
from fical_secure.attacks.modes import Release, SharingMode, secagg_mode, synthetic_releases
from fical_secure.attacks.plugins import Attribution, MembershipInference
from fical_secure.attacks.pooled import POOLED_OWNER
from fical_secure.attacks.synthetic import SyntheticConfig, clean_output, few_shot_prompts
from fical_secure.audit.artefact import SharedArtefact
from fical_secure.audit.auditor import AuditConfig
from fical_secure.audit.signals import CachingEmbedder
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Episode, Federation, HospitalData
from fical_secure.kcg.schema import MAX_ENTRY_CHARS, Compendium, validate_entry
from fical_secure.release.policy import ReleasePolicy
from fical_secure.tlu.embedding import default_embedder

CONFIG = AuditConfig(use_llm=False, n_bootstrap=50)


class ParrotLLM(CopyingLLM):
    """Repeats the last record of its prompt (the anchor): a model that copies a shot whole."""

    name = "parrot-fake"

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int = 96, system: str | None = None
    ) -> list[str]:
        last = [p.rsplit("Record ", 1)[1].split("\n", 1)[1] for p in prompts]
        return [text.rsplit("\n\nWrite one new record", 1)[0] for text in last]


@pytest.fixture(scope="module")
def federation() -> Federation:
    # secure aggregation needs three clients (with two, each learns the other's input)
    return generate_federation(3, seed=4, episodes_per_hospital=12, nonmembers_per_hospital=12)


@pytest.fixture(scope="module")
def embedder() -> CachingEmbedder:
    return CachingEmbedder(default_embedder())


def _compendium(owner: str, episodes: Sequence[Episode]) -> Compendium:
    """A release whose entries copy records (the leak the attacks must see)."""
    entries = (validate_entry(e.call.tool, "usage", e.text()[:MAX_ENTRY_CHARS]) for e in episodes)
    return Compendium(owner, tuple(entries))


def test_synthetic_prompts_use_only_the_clients_members_with_varied_seeded_shots(
    federation: Federation,
) -> None:
    hospital = federation.hospitals[0]
    config = SyntheticConfig(max_examples=5, shots=3, seed=7)
    prompts = few_shot_prompts(hospital.hospital_id, hospital.members, config)
    assert prompts == few_shot_prompts(hospital.hospital_id, hospital.members, config)
    assert len(prompts) == 5  # capped below the 12 members
    members = {e.episode_id for e in hospital.members}
    others = [e.text() for h in federation.hospitals for e in h.nonmembers]
    others += [e.text() for e in federation.hospitals[1].members]
    for anchor, shots, prompt in prompts:
        assert shots[-1] is anchor and len(shots) == 3
        assert {e.episode_id for e in shots} <= members
        assert all(e.text() in prompt for e in shots)
        assert not any(text in prompt for text in others)
        if sum(e.call.tool == anchor.call.tool for e in hospital.members) >= 3:
            assert all(e.call.tool == anchor.call.tool for e in shots)
    assert len({tuple(e.episode_id for e in shots) for _, shots, _ in prompts}) == 5
    assert len({anchor.episode_id for anchor, _, _ in prompts}) == 5
    other_seed = few_shot_prompts(hospital.hospital_id, hospital.members, replace(config, seed=8))
    assert [s for _, s, _ in other_seed] != [s for _, s, _ in prompts]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("Here is a new record:\nUser: a\nCall: f()\nAnswer: b", "User: a\nCall: f()\nAnswer: b"),
        ("User: a\nAnswer: b\n\nRecord 4:\nUser: c", "User: a\nAnswer: b"),
        ("User: a\nAnswer: b\nUser: c\nAnswer: d", "User: a\nAnswer: b"),
        ("no record format at all", "no record format at all"),
        ("   ", ""),
    ],
)
def test_clean_output_keeps_the_first_record_the_model_wrote(output: str, expected: str) -> None:
    assert clean_output(output) == expected


def test_synthetic_items_are_what_the_model_wrote_never_a_member_unless_it_copied(
    federation: Federation,
) -> None:
    config = SyntheticConfig(max_examples=4, shots=2, max_new_tokens=48)
    fresh = synthetic_releases(federation.hospitals, CopyingLLM(), config)
    parrot = synthetic_releases(federation.hospitals, ParrotLLM(), config)
    for hospital in federation.hospitals:  # one batched call, each client its own prompts
        cid, members = hospital.hospital_id, {e.text() for e in hospital.members}
        mine = fresh[cid]
        assert len(mine.artefact) == 4 and mine.artefact.owner == cid
        assert not members & set(mine.artefact.texts)
        assert not any(e.episode_id in i for e in hospital.members for i in mine.artefact.item_ids)
        anchors = [a for a, _, _ in few_shot_prompts(cid, hospital.members, config)]
        # a model that copies its shot: the copy is shared as is, with the anchor's tool
        assert parrot[cid].artefact.texts == tuple(a.text() for a in anchors)
        assert parrot[cid].tools == tuple(a.call.tool for a in anchors)


def test_secagg_pool_holds_the_multiset_without_senders(federation: Federation) -> None:
    h1, h2, h3 = federation.hospitals
    shared = h2.members[0]  # one record two clients release: one entry, two writers
    released = {
        h1.hospital_id: _compendium(h1.hospital_id, [*h1.members[:4], shared]),
        h2.hospital_id: _compendium(h2.hospital_id, h2.members[:4]),
        h3.hospital_id: _compendium(h3.hospital_id, h3.members[:4]),
    }
    mode = secagg_mode(released)
    assert mode.releases == {} and mode.pooled is not None and mode.note is None
    pool = mode.pooled.artefact
    assert pool.owner == POOLED_OWNER and len(pool) == 12  # 13 entries, one held twice
    for cid in released:
        assert not any(cid in item for item in (*pool.item_ids, pool.owner))
    assert list(pool.item_ids) == sorted(pool.item_ids)  # content order, not client order
    writers = dict(zip(pool.item_ids, mode.pooled.writers, strict=True))
    assert [w for w in writers.values() if len(w) > 1] == [{h1.hospital_id, h2.hospital_id}]
    assert mode.sent_bytes[h1.hospital_id] > sum(len(t) for t in pool.texts)  # the slot vector
    again = secagg_mode(dict(reversed(list(released.items()))))
    assert again.pooled is not None and again.pooled.artefact == pool
    assert mode.seen_for(h1.hospital_id) is mode.seen_for(h3.hospital_id) is mode.pooled


def test_a_blocked_client_sends_nothing_and_too_few_clients_leave_the_server_nothing(
    federation: Federation,
) -> None:
    h1, h2, h3 = federation.hospitals
    released = {h.hospital_id: _compendium(h.hospital_id, h.members[:3]) for h in (h1, h2)}
    mode = secagg_mode({**released, h3.hospital_id: None})
    assert mode.blocked == (h3.hospital_id,) and mode.sent_bytes[h3.hospital_id] == 0
    # three clients need all three (threshold 3): from the sum of two survivors,
    # one colluding survivor would learn the other's input
    assert mode.held() == [] and mode.pooled is not None and mode.pooled.blocked
    assert mode.note is not None and "threshold 3" in mode.note
    pair = secagg_mode(released)
    assert pair.held() == [] and pair.pooled is not None and pair.pooled.blocked
    assert pair.note is not None and "at least 3 clients" in pair.note


def _exchangeable(federation: Federation) -> Federation:
    """Three clients dealt in turn from one hospital: content says nothing of the writer."""
    source = federation.hospitals[0]
    clients = [
        HospitalData(
            cid,
            cid,
            source.tools,
            [replace(e, hospital_id=cid) for e in source.members[k::3]],
            [replace(e, hospital_id=cid) for e in source.nonmembers[k::3]],
        )
        for k, cid in enumerate(("hA", "hB", "hC"))
    ]
    return Federation(
        federation.seed,
        federation.catalogue,
        clients,
        federation.eval_requests,
        federation.manifest,
    )


def test_attribution_on_the_pool_falls_to_chance_and_the_sender_channel_is_what_pooling_removes(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    fed = _exchangeable(
        generate_federation(1, seed=5, episodes_per_hospital=36, nonmembers_per_hospital=36)
    )
    released = {h.hospital_id: _compendium(h.hospital_id, h.members) for h in fed.hospitals}
    pooled = secagg_mode(released)
    per_client = SharingMode.per_client(
        {
            cid: Release(_sealed(comp), tuple(e.tool for e in comp.entries))
            for cid, comp in released.items()
        }
    )
    policy = ReleasePolicy()
    anonymous = Attribution().run(
        ModeContext("secagg", pooled, fed, embedder, None, CONFIG, policy)
    )
    named = Attribution().run(
        ModeContext("sealed", per_client, fed, embedder, None, CONFIG, policy)
    )
    best = anonymous["attribution_accuracy"]
    assert best["channel"] == "content" and best["n_items"] == 36
    assert best["chance"] == pytest.approx(1 / 3, abs=1e-4)
    assert best["ci95"][0] <= best["chance"] <= best["ci95"][1]
    assert best == {**anonymous["attribution_content_accuracy"], "channel": "content"}
    assert named["attribution_accuracy"]["value"] == 1.0  # the same entries, sender known


def _sealed(comp: Compendium) -> SharedArtefact:
    """The same release as a sealed round delivers it: under its sender's name."""
    return SharedArtefact(
        "compendium",
        comp.owner,
        tuple(e.entry_id for e in comp.entries),
        tuple(e.render() for e in comp.entries),
    )


def test_membership_on_the_pool_audits_each_client_against_the_multiset(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    h1, h2, h3 = federation.hospitals
    released = {  # h1 copies its members; h2 and h3 release records outside their games
        h1.hospital_id: _compendium(h1.hospital_id, h1.members),
        h2.hospital_id: _compendium(h2.hospital_id, h2.nonmembers[:6]),
        h3.hospital_id: _compendium(h3.hospital_id, h3.nonmembers[:6]),
    }
    game = generate_federation(3, seed=4, episodes_per_hospital=12, nonmembers_per_hospital=12)
    for h in game.hospitals[1:]:
        h.nonmembers = h.nonmembers[6:]  # the released ones leave the game
    ctx = ModeContext(
        "secagg", secagg_mode(released), game, embedder, None, CONFIG, ReleasePolicy()
    )
    audits = ctx.audits()
    assert set(audits) == {h1.hospital_id, h2.hospital_id, h3.hospital_id}
    assert ctx.sharing.pooled is not None
    assert all(r.item_ids == ctx.sharing.pooled.artefact.item_ids for r in audits.values())
    best = {cid: max(a.metrics.auc for a in r.attacks.values()) for cid, r in audits.items()}
    assert best[h1.hospital_id] > 0.95  # its members are in the pool, sender or not
    assert best[h2.hospital_id] < 0.8 and best[h3.hospital_id] < 0.8
    assert MembershipInference().run(ctx)["mia_auc_per_client"]["client"] == h1.hospital_id
