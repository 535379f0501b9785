"""Attacks on the secure-aggregation protocol: each is refused with a typed error."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from secagg_helpers import BITS, LENGTH, Walk, expected_sum

from fical_secure.errors import (
    InvalidShare,
    MessageFormatError,
    ReplayError,
    SecAggAbort,
    SecAggRefusal,
    SecAggTimeout,
    StageError,
    WrongRoundError,
)
from fical_secure.protocol.secagg import Federation, SecAggClient, SecAggServer
from fical_secure.protocol.secagg.common import MASK_SECRET, Phase
from fical_secure.protocol.secagg.messages import (
    KIND_UNMASK_REQUEST,
    AdvertiseKeys,
    Relay,
    SurvivorList,
    UnmaskShares,
)


def _forged_list(w: Walk, survivors: tuple[bytes, ...], dropped: tuple[bytes, ...]) -> bytes:
    """A survivor list the (malicious) server signs with its real key."""
    lst = SurvivorList(
        w.server.round_id, w.server.config_hash, w.fed.server_identity.key_id, survivors, dropped
    )
    return lst.signed_by(w.fed.server_identity)


def test_an_honest_round_sums_exactly_and_refuses_nothing() -> None:
    w = Walk(5)
    total = w.finish()
    assert np.array_equal(total, expected_sum(w.inputs, w.ids))
    assert w.server.refused == []
    assert all(c.phase is Phase.DONE for c in w.clients.values())


def test_overlapping_survivor_and_dropout_lists_are_refused() -> None:
    w = Walk(5)
    w.to_survivors()
    victim = w.ids[2]
    forged = _forged_list(w, w.ids, (victim,))
    for cid in w.ids:
        with pytest.raises(SecAggRefusal, match="both as survivor and as dropped"):
            w.clients[cid].consistency_check(forged)
        assert w.clients[cid].phase is Phase.ABORTED  # secrets erased, nothing revealed


def test_inconsistent_survivor_views_are_detected_through_the_acks() -> None:
    """The server shows 'client 4 dropped' to two clients and the true list to three."""
    w = Walk(5)
    w.to_survivors()
    fake = _forged_list(w, w.ids[:4], (w.ids[4],))
    ack_fake = {c: w.clients[c].consistency_check(fake) for c in w.ids[:2]}
    ack_true = {c: w.clients[c].consistency_check(w.survivors) for c in w.ids[2:4]}
    mixed = Relay(
        w.server.round_id,
        w.server.config_hash,
        KIND_UNMASK_REQUEST,
        (fake, *ack_fake.values(), *ack_true.values()),
    ).encode()
    with pytest.raises(SecAggRefusal, match="views differ"):
        w.clients[w.ids[0]].unmask(mixed)
    # a request carrying only the two matching acks is below threshold: abort, no reveal
    short = Relay(
        w.server.round_id, w.server.config_hash, KIND_UNMASK_REQUEST, (fake, *ack_fake.values())
    ).encode()
    with pytest.raises(SecAggAbort):
        w.clients[w.ids[1]].unmask(short)
    assert w.clients[w.ids[1]].revealed == {}


def test_a_server_asking_twice_for_shares_is_refused() -> None:
    """After revealing for the true list, a second request (calling client 2 dropped) fails."""
    w = Walk(5)
    w.finish()
    forged = _forged_list(w, w.ids[:2] + w.ids[3:], (w.ids[2],))
    request = Relay(
        w.server.round_id, w.server.config_hash, KIND_UNMASK_REQUEST, (forged,)
    ).encode()
    for cid in w.ids:
        with pytest.raises(StageError):
            w.clients[cid].unmask(request)
        assert all(kind != MASK_SECRET for kind in w.clients[cid].revealed.values())


def test_a_dropped_client_that_comes_back_is_refused_and_never_unmasked() -> None:
    w = Walk(5)
    late = w.ids[1]
    w.to_request(silent=frozenset({late}))
    late_input = w.clients[late].masked_input(w.bundles[late], w.inputs[late])
    with pytest.raises(SecAggRefusal, match="names this client dropped"):
        w.clients[late].consistency_check(w.survivors)
    w.reveals = {c: w.clients[c].unmask(w.request) for c in w.masked}
    total = w.server.unmask([late_input, *w.reveals.values()])
    assert any(isinstance(r.error, MessageFormatError) for r in w.server.refused)
    assert np.array_equal(total, expected_sum(w.inputs, tuple(c for c in w.ids if c != late)))
    for cid in w.masked:  # holders revealed only the dropped client's mask-key share
        assert w.clients[cid].revealed[late] == MASK_SECRET


def test_late_and_repeated_replies_are_refused_per_record() -> None:
    w = Walk(5)
    late = w.ids[0]
    w.to_survivors(silent=frozenset({late}))
    late_input = w.clients[late].masked_input(w.bundles[late], w.inputs[late])
    acks = [w.clients[c].consistency_check(w.survivors) for c in w.ids[1:]]
    w.server.consistency_check([late_input, acks[0], acks[0], *acks[1:]])
    assert [type(r.error) for r in w.server.refused] == [MessageFormatError, ReplayError]
    assert late not in w.server.survivors


def test_replayed_old_round_messages_are_refused() -> None:
    w1 = Walk(5)
    w1.finish()
    p = w1.server.params
    server2 = SecAggServer(w1.fed.server_identity, w1.fed.roster, p, round_id=2)
    clients2 = {
        c: SecAggClient(w1.fed.client_identities[c], w1.fed.server_identity.public, w1.fed.roster)
        for c in w1.ids
    }
    config2 = server2.configure()
    adverts2 = [clients2[c].advertise_keys(config2) for c in w1.ids[1:]]
    old = w1.adverts[w1.ids[0]]
    server2.advertise_keys([old, *adverts2])
    assert [type(r.error) for r in server2.refused] == [WrongRoundError]
    with pytest.raises(WrongRoundError):
        clients2[w1.ids[1]].share_keys(w1.directory)


def test_duplicated_public_keys_are_refused_by_server_and_clients() -> None:
    w = Walk(5)
    w.config = w.server.configure()
    w.adverts = {c: w.clients[c].advertise_keys(w.config) for c in w.ids}
    a, b = w.ids[0], w.ids[1]
    copied = AdvertiseKeys.decode(w.adverts[a])
    mine = AdvertiseKeys.decode(w.adverts[b])
    evil = AdvertiseKeys(
        mine.round_id, mine.config_hash, b, mine.encryption_public, copied.mask_public
    ).signed_by(w.fed.client_identities[b])
    others = [m for c, m in w.adverts.items() if c != b]
    w.server.advertise_keys([*others, evil])
    assert [type(r.error) for r in w.server.refused] == [SecAggRefusal]
    # a malicious server that relays the copy anyway: every honest client refuses
    from fical_secure.protocol.secagg.messages import KIND_DIRECTORY

    directory = Relay(
        w.server.round_id, w.server.config_hash, KIND_DIRECTORY, (*others, evil)
    ).encode()
    with pytest.raises(SecAggRefusal, match="repeats a public key"):
        w.clients[w.ids[2]].share_keys(directory)


def test_a_tampered_revealed_share_is_refused_and_the_sum_stays_exact() -> None:
    w = Walk(10)
    w.to_request()
    w.reveals = {c: w.clients[c].unmask(w.request) for c in w.masked}
    bad = UnmaskShares.decode(w.reveals[w.ids[0]])
    y = bytearray(bad.self_shares[1])
    y[0] ^= 1
    tampered = UnmaskShares(
        bad.round_id,
        bad.config_hash,
        bad.signer_id,
        bad.self_dealers,
        (bad.self_shares[0], bytes(y), *bad.self_shares[2:]),
        bad.mask_dealers,
        bad.mask_shares,
    )
    forged = tampered.signed_by(w.fed.client_identities[w.ids[0]])  # a corrupt holder
    total = w.server.unmask([forged, *list(w.reveals.values())[1:]])
    assert [type(r.error) for r in w.server.refused] == [InvalidShare]
    assert np.array_equal(total, expected_sum(w.inputs, w.ids))


def test_a_config_with_a_weak_threshold_is_refused_by_clients() -> None:
    fed = Federation.create(5, bits=BITS, length=LENGTH)
    from fical_secure.protocol.secagg.messages import SecAggConfig

    good = SecAggConfig.decode(fed.server.configure())
    weak = SecAggConfig(
        good.round_id,
        good.config_hash,
        good.signer_id,
        good.participants,
        2,
        good.k,
        good.bits,
        good.length,
        good.graph_seed,
        good.timeouts_s,
        good.created_at,
    ).signed_by(fed.server_identity)
    client = next(iter(fed.clients.values()))
    with pytest.raises(SecAggRefusal, match="strict majority"):
        client.advertise_keys(weak)


def test_a_forged_server_message_is_refused() -> None:
    from fical_secure.crypto.identity import IdentityKey
    from fical_secure.errors import InvalidSignature

    w = Walk(5)
    w.to_survivors()
    mallory = IdentityKey.generate()
    lst = SurvivorList(w.server.round_id, w.server.config_hash, mallory.key_id, w.ids, ())
    with pytest.raises(InvalidSignature):
        w.clients[w.ids[0]].consistency_check(lst.signed_by(mallory))


def test_a_request_after_the_stage_deadline_times_out() -> None:
    now = [1000.0]
    fed = Federation.create(5, bits=BITS, length=LENGTH, timeouts_s=(7, 8, 9, 10, 11))
    assert [fed.server.timeout_s(s) for s in range(5)] == [7, 8, 9, 10, 11]
    client = SecAggClient(
        fed.client_identities[fed.server.params.participants[0]],
        fed.server_identity.public,
        fed.roster,
        clock=lambda: now[0],
    )
    client.advertise_keys(fed.server.configure())
    now[0] += fed.server.timeout_s(0) + 1
    with pytest.raises(SecAggTimeout):
        client.share_keys(b"")
    assert client.phase is Phase.ABORTED


def test_stages_out_of_order_are_refused() -> None:
    w = Walk(5)
    with pytest.raises(StageError, match="configure"):
        w.server.advertise_keys([])
    w.to_directory()
    with pytest.raises(StageError):
        w.server.masked_input([])
    with pytest.raises(StageError):
        w.clients[w.ids[0]].consistency_check(b"")


def test_parties_holding_round_secrets_refuse_pickling() -> None:
    import pickle

    from fical_secure.errors import KeyMisuseError

    w = Walk(3)
    w.to_directory()
    for party in (w.server, w.clients[w.ids[0]]):
        with pytest.raises(KeyMisuseError):
            pickle.dumps(party)


def test_each_refusal_names_its_stage_and_claimed_sender_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = Walk(5)
    late = w.ids[0]
    w.to_survivors(silent=frozenset({late}))
    late_input = w.clients[late].masked_input(w.bundles[late], w.inputs[late])
    acks = [w.clients[c].consistency_check(w.survivors) for c in w.ids[1:]]
    with caplog.at_level(logging.WARNING):
        w.server.consistency_check([late_input, acks[0], acks[0], *acks[1:]])
    assert [(r.stage, r.sender) for r in w.server.refused] == [
        ("consistency", late),
        ("consistency", w.ids[1]),
    ]
    assert [m for m in caplog.messages if "refused a reply" in m] == [
        f"secagg consistency: refused a reply: {r.error}" for r in w.server.refused
    ]
