"""One bad party in a SecAgg+ round (issue 22, attacks 5 and 6), through the real protocol.

Attack 5: a server signs a legal but weak config; every client refuses it by
its own floors before it advertises a key. Attack 6: one client deals garbage
share envelopes, shares that fail its own commitments, or advertises a
low-order mask key; the round completes without it, and blame names it.
"""

from __future__ import annotations

import dataclasses
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from secagg_helpers import BITS, LENGTH, Walk, expected_sum, inputs_for

from fical_secure.config.profile import load_profile, resolve_profile
from fical_secure.crypto.masking import MaskAccumulator, MaskKind
from fical_secure.crypto.shamir import Share, combine
from fical_secure.errors import (
    ConfigError,
    DealerBlamed,
    InvalidPeerKey,
    SecAggAbort,
    SecAggRefusal,
    WeakSecAggParameters,
)
from fical_secure.protocol.messages import sha256
from fical_secure.protocol.secagg import Federation, SecAggClient, SecAggParams, run_secagg_round
from fical_secure.protocol.secagg.common import SELF_SECRET, Phase, share_context
from fical_secure.protocol.secagg.floors import SecAggFloors, secagg_plus_degree
from fical_secure.protocol.secagg.messages import (
    KIND_DIRECTORY,
    KIND_SHARE_BUNDLE,
    KIND_UNMASK_REQUEST,
    AdvertiseKeys,
    ConsistencyAck,
    MaskedInput,
    Relay,
    ShareKeys,
    SurvivorList,
    UnmaskShares,
)

N = 7


def test_a_weak_signed_config_is_refused_by_every_client_before_it_advertises() -> None:
    """Attack 5: n = 10, k = 2, threshold 2 is legal, and one colluder recovers an input."""
    fed = Federation.create(10, bits=BITS, length=LENGTH, k=2, threshold=2)
    config = fed.server.configure()
    for client in fed.clients.values():
        with pytest.raises(WeakSecAggParameters, match="degree k = 2 is below the floor 9"):
            client.advertise_keys(config)
        assert client.phase is Phase.ABORTED and not hasattr(client, "_enc")
    fresh = Federation.create(10, bits=BITS, length=LENGTH, k=2, threshold=2)
    with pytest.raises(SecAggAbort, match="only 0 clients advertised keys"):
        run_secagg_round(fresh, inputs_for(fresh, seed=1))


def test_below_the_floors_the_weak_config_lets_one_colluder_recover_an_input() -> None:
    """Attack 5 itself: what the floors stop. The server withholds honest neighbour
    H's shares from victim V and shows V a list without H; V's ring neighbour A
    colludes. V's own self-mask share and A's rebuild V's seed; A knows the
    only pairwise mask V added: V's exact input comes out."""
    weak = SecAggFloors(min_degree=2, min_threshold_fraction=Fraction(1, 2))
    weak = dataclasses.replace(weak, min_tolerated_corruptions=0)
    fed = Federation.create(10, bits=BITS, length=LENGTH, k=2, threshold=2, floors=weak)
    server, clients, p = fed.server, fed.clients, fed.server.params
    ids, x = p.participants, inputs_for(fed, seed=9)
    v, (a, h) = 0, sorted(p.neighbours(0))
    config = server.configure()
    adverts = {c: clients[c].advertise_keys(config) for c in ids}
    directory = server.advertise_keys(list(adverts.values()))
    dealt = {c: clients[c].share_keys(directory) for c in ids}
    bundles = server.share_keys(list(dealt.values()))
    items = Relay.decode(bundles[ids[v]], KIND_SHARE_BUNDLE).items
    kept = tuple(i for i in items if ShareKeys.decode(i).signer_id != ids[h])
    withheld = Relay(server.round_id, server.config_hash, KIND_SHARE_BUNDLE, kept).encode()
    masked = MaskedInput.decode(clients[ids[v]].masked_input(withheld, x[ids[v]])).vector
    clients[ids[a]].masked_input(bundles[ids[a]], x[ids[a]])  # the colluder, honestly so far
    view = SurvivorList(
        server.round_id, server.config_hash, fed.server_identity.key_id, (ids[v], ids[a]), ()
    ).signed_by(fed.server_identity)
    acks = [clients[ids[v]].consistency_check(view)]
    acks.append(
        ConsistencyAck(server.round_id, server.config_hash, ids[a], sha256(view)).signed_by(
            fed.client_identities[ids[a]]
        )
    )
    request = Relay(server.round_id, server.config_hash, KIND_UNMASK_REQUEST, (view, *acks))
    own = UnmaskShares.decode(clients[ids[v]].unmask(request.encode()))
    mine = own.self_shares[own.self_dealers.index(ids[v])]
    colluder = clients[ids[a]]._held[v][0]
    deal = ShareKeys.decode(dealt[ids[v]])
    points = [Share(v + 1, mine), colluder]
    ctx = {
        q.x: share_context(server.config_hash, ids[v], ids[q.x - 1], SELF_SECRET) for q in points
    }
    xs = (p.index[holder] + 1 for holder in deal.holders)
    commits = dict(zip(xs, deal.self_commitments, strict=True))
    seed = combine(points, threshold=2, secret_len=32, contexts=ctx, commitments=commits)
    pair = clients[ids[a]]._mask.pairwise_seed(
        AdvertiseKeys.decode(adverts[ids[v]]).mask_public, server.config_hash
    )
    acc = MaskAccumulator(LENGTH, BITS, server.config_hash)
    acc.add_vector(np.frombuffer(masked, dtype="<u4").astype(np.uint32))
    acc.subtract(seed, MaskKind.SELF)
    (acc.subtract if v < a else acc.add)(pair, MaskKind.PAIRWISE)
    assert np.array_equal(acc.reduced(), x[ids[v]])


@pytest.mark.parametrize(
    ("n", "k", "t", "floors", "named"),
    [
        (40, 20, 14, SecAggFloors(), "degree k = 20 is below the floor 22 for 40 clients"),
        (40, 22, 15, SecAggFloors(), "threshold 15 is below the floor 16"),
        (5, 4, 3, SecAggFloors(min_threshold_fraction=Fraction(1, 2)), "corruptions .* = 0"),
        (5, 4, 4, SecAggFloors(min_cohort=6), "cohort 5 is below the floor 6"),
        (9, 8, 6, SecAggFloors(min_tolerated_corruptions=3), "tolerated corruptions"),
    ],
)
def test_each_floor_refuses_a_config_below_it_and_names_it(
    n: int, k: int, t: int, floors: SecAggFloors, named: str
) -> None:
    ids = tuple(i.to_bytes(16, "big") for i in range(n))
    params = SecAggParams(ids, t, k, BITS, LENGTH)
    with pytest.raises(WeakSecAggParameters, match=named):
        floors.check(params)


def test_recommended_parameters_meet_the_default_floors_at_every_cohort_size() -> None:
    floors = SecAggFloors()
    for n in [*range(3, 130), 500, 5000, 65_535]:
        ids = tuple(i.to_bytes(16, "big") for i in range(n))
        p = SecAggParams.recommended(ids, bits=BITS, length=LENGTH)
        floors.check(p)
        assert p.tolerated_corruptions >= 1 and p.k >= min(n - 1, secagg_plus_degree(n))


def test_floors_from_a_profile_section_refuse_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    floors = SecAggFloors.from_mapping({"min_degree": 8, "min_threshold_fraction": "0.75"})
    assert floors.min_degree == 8 and floors.min_threshold_fraction == Fraction(3, 4)
    for bad in ({"min_degre": 8}, {"min_cohort": True}, {"min_threshold_fraction": 0.2}):
        with pytest.raises(ConfigError):
            SecAggFloors.from_mapping(bad)
    strict = resolve_profile("strict")
    assert load_profile(strict).secagg == SecAggFloors()  # the shipped profile: the defaults
    weak = tmp_path / "weak.yaml"
    weak.write_text(strict.read_text().replace("corruptions: 1", "corruptions: -1"))
    with pytest.raises(ConfigError, match="secagg"):
        load_profile(weak)


class LowOrderMaskKey(SecAggClient):
    """A client that advertises 32 zero bytes as its mask key (signed with its identity)."""

    def advertise_keys(self, config: bytes) -> bytes:
        honest = AdvertiseKeys.decode(super().advertise_keys(config))
        evil = dataclasses.replace(honest, mask_public=bytes(32), sig=b"")
        return evil.signed_by(self._identity)


class BadDealer(SecAggClient):
    """A client whose signed ShareKeys spoils the shares of some holders."""

    spoil: str = "garbage"
    victims: int = 1

    def share_keys(self, directory: bytes) -> bytes:
        msg = ShareKeys.decode(super().share_keys(directory))
        targets = [pos for pos, env in enumerate(msg.envelopes) if env][: self.victims]
        envelopes, commitments = list(msg.envelopes), list(msg.self_commitments)
        for pos in targets:
            if self.spoil == "garbage":
                envelopes[pos] = os.urandom(len(envelopes[pos]))
            else:
                commitments[pos] = bytes(a ^ 1 for a in commitments[pos])
        spoiled = dataclasses.replace(
            msg, envelopes=tuple(envelopes), self_commitments=tuple(commitments), sig=b""
        )
        return spoiled.signed_by(self._identity)


def _with_bad_client(cls: type[SecAggClient]) -> tuple[Federation, bytes]:
    fed = Federation.create(N, bits=BITS, length=LENGTH)
    bad = fed.server.params.participants[3]
    fed.clients[bad] = cls(fed.client_identities[bad], fed.server_identity.public, fed.roster)
    return fed, bad


def _honest_round_completes_without(fed: Federation, bad: bytes) -> None:
    inputs = inputs_for(fed, seed=5)
    out = run_secagg_round(fed, inputs)
    honest = tuple(c for c in fed.server.params.participants if c != bad)
    assert out.survivors == honest
    assert np.array_equal(out.total, expected_sum(inputs, honest))
    assert all(fed.clients[c].phase is Phase.DONE for c in honest)


@pytest.mark.parametrize("victims", [1, 3, N - 1])  # 3: fewer than t accept it
@pytest.mark.parametrize("spoil", ["garbage", "commitment"])
def test_a_dealer_spoiling_shares_is_dropped_and_blamed_not_its_holders(
    spoil: str, victims: int
) -> None:
    """Attack 6: garbage envelopes or shares failing the dealer's own commitments."""
    fed, bad = _with_bad_client(type("Bad", (BadDealer,), {"spoil": spoil, "victims": victims}))
    _honest_round_completes_without(fed, bad)
    blamed = [r for r in fed.server.refused if isinstance(r.error, DealerBlamed)]
    assert len(blamed) == victims and {r.sender for r in blamed} == {bad}
    assert {r.sender for r in fed.server.refused} == {bad}  # no honest holder is named


def test_a_low_order_mask_key_is_refused_at_advertise_and_the_round_completes() -> None:
    """Attack 6: a mask key of 32 zero bytes no longer aborts all neighbours later."""
    fed, bad = _with_bad_client(LowOrderMaskKey)
    _honest_round_completes_without(fed, bad)
    assert [(r.stage, r.sender, type(r.error)) for r in fed.server.refused] == [
        ("advertise_keys", bad, InvalidPeerKey)
    ]


def test_a_server_relaying_a_low_order_key_is_refused_by_the_clients() -> None:
    fed, bad = _with_bad_client(LowOrderMaskKey)
    config = fed.server.configure()
    adverts = [fed.clients[c].advertise_keys(config) for c in fed.server.params.participants]
    directory = Relay(fed.server.round_id, fed.server.config_hash, KIND_DIRECTORY, tuple(adverts))
    honest = next(c for c in fed.server.params.participants if c != bad)
    with pytest.raises(InvalidPeerKey, match="low-order"):
        fed.clients[honest].share_keys(directory.encode())
    assert fed.clients[honest].phase is Phase.ABORTED


def test_a_server_cannot_call_a_survivor_blamed_to_harvest_pairwise_seeds() -> None:
    """Pairwise seeds go out only for dealers the signed list also names dropped."""
    w = Walk(5)
    w.to_survivors()
    target = w.ids[2]
    lst = SurvivorList(
        w.server.round_id, w.server.config_hash, w.fed.server_identity.key_id, w.ids, (), (target,)
    ).signed_by(w.fed.server_identity)
    for cid in w.ids:
        with pytest.raises(SecAggRefusal, match="blamed dealers are not dropped"):
            w.clients[cid].consistency_check(lst)
        assert w.clients[cid].phase is Phase.ABORTED and w.clients[cid].revealed == {}


class FalseAccuser(SecAggClient):
    """A holder that blames honest dealers: ``accuse`` of them, masking without them
    (a consistent liar), or every neighbour at once without changing its masks."""

    accuse: int = 2

    def masked_input(self, bundle: bytes, vector: np.ndarray) -> bytes:
        relay = Relay.decode(bundle, KIND_SHARE_BUNDLE)
        dealers = sorted(ShareKeys.decode(item).signer_id for item in relay.items)
        if self.accuse < len(dealers):
            dealers = dealers[: self.accuse]
            kept = tuple(i for i in relay.items if ShareKeys.decode(i).signer_id not in dealers)
            bundle = dataclasses.replace(relay, items=kept).encode()
        honest = MaskedInput.decode(super().masked_input(bundle, vector))
        self._blamed = frozenset(self.params.index[d] for d in dealers)
        return dataclasses.replace(honest, blamed=tuple(dealers), sig=b"").signed_by(self._identity)


def test_a_holder_blaming_more_dealers_than_tolerated_is_dropped_itself() -> None:
    fed, bad = _with_bad_client(type("All", (FalseAccuser,), {"accuse": N - 1}))
    _honest_round_completes_without(fed, bad)
    assert [(r.sender, type(r.error)) for r in fed.server.refused] == [(bad, SecAggRefusal)]


def test_a_false_accuser_drops_at_most_the_tolerated_number_of_honest_neighbours() -> None:
    """The stated limit: blames cannot be checked, so up to ``2t - k - 2`` stick."""
    fed, bad = _with_bad_client(FalseAccuser)
    c = fed.server.params.tolerated_corruptions
    assert c == FalseAccuser.accuse
    inputs = inputs_for(fed, seed=6)
    out = run_secagg_round(fed, inputs)
    accused = {r.sender for r in fed.server.refused if isinstance(r.error, DealerBlamed)}
    assert len(accused) == c and bad not in accused
    assert set(out.survivors) == set(fed.server.params.participants) - accused
    assert np.array_equal(out.total, expected_sum(inputs, out.survivors))
