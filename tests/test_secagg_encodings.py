"""SecAgg+ encodings pinned: the signed data of each message, round trips, exported state.

Each signed message is Ed25519 over ``label || SHA-256(body)`` with one label
per kind; the test checks that with ``cryptography`` directly. Every message
round-trips through ``decode(encode())`` to an equal value. A client's
exported state (what a fresh Flower process restores) keeps its deadline.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fical_secure.crypto.keys import IdentityKey
from fical_secure.errors import (
    InvalidSignature,
    MessageFormatError,
    SecAggTimeout,
    WrongRoundError,
)
from fical_secure.protocol.secagg import Federation, SecAggClient
from fical_secure.protocol.secagg import messages as m

SEED = hashlib.sha256(b"fical-secure kat/secagg-signer").digest()
SIGNER = IdentityKey._from_private_bytes(SEED)
CONFIG_HASH = bytes(range(32))
HEAD = (7, CONFIG_HASH, SIGNER.key_id)
IDS = (b"\x01" * 16, b"\x02" * 16, b"\x03" * 16)
LABELS = {
    m.SecAggConfig: b"fical-secure/v1/sig/secagg/config\x00",
    m.AdvertiseKeys: b"fical-secure/v1/sig/secagg/advertise-keys\x00",
    m.ShareKeys: b"fical-secure/v1/sig/secagg/share-keys\x00",
    m.MaskedInput: b"fical-secure/v1/sig/secagg/masked-input\x00",
    m.SurvivorList: b"fical-secure/v1/sig/secagg/survivors\x00",
    m.ConsistencyAck: b"fical-secure/v1/sig/secagg/consistency\x00",
}


def _messages() -> list[Any]:
    return [
        m.SecAggConfig(*HEAD, IDS, 2, 2, 32, 10, b"\x05" * 32, (30, 60), 1_700_000_000),
        m.AdvertiseKeys(*HEAD, b"\x11" * 32, b"\x22" * 32),
        m.ShareKeys(
            *HEAD, IDS[:2], (b"", b"sealed"), (b"\x31" * 32,) * 2, (b"\x32" * 32,) * 2, b"\x33" * 32
        ),
        m.MaskedInput(*HEAD, bytes(range(40))),
        m.SurvivorList(*HEAD, IDS[:2], IDS[2:]),
        m.ConsistencyAck(*HEAD, b"\x44" * 32),
    ]


@pytest.mark.parametrize("message", _messages(), ids=lambda msg: type(msg).__name__)
def test_each_kind_signs_its_label_and_the_sha256_of_its_body(message: Any) -> None:
    wire = message.signed_by(SIGNER)
    decoded = type(message).decode(wire)
    assert decoded.encode() == wire and decoded.body() == message.body()
    signed = LABELS[type(message)] + hashlib.sha256(message.body()).digest()
    Ed25519PrivateKey.from_private_bytes(SEED).public_key().verify(decoded.signature, signed)
    decoded.verify(SIGNER.public)
    decoded.check_round(7, CONFIG_HASH)
    for round_id, config_hash in ((8, CONFIG_HASH), (7, bytes(32))):
        with pytest.raises(WrongRoundError):
            decoded.check_round(round_id, config_hash)


@pytest.mark.parametrize("message", _messages(), ids=lambda msg: type(msg).__name__)
def test_a_flipped_bit_or_a_cut_message_never_verifies(message: Any) -> None:
    wire = message.signed_by(SIGNER)
    for position in range(0, len(wire), 7):
        mutant = bytearray(wire)
        mutant[position] ^= 0x01
        try:
            decoded = type(message).decode(bytes(mutant))
        except MessageFormatError:
            continue
        with pytest.raises(InvalidSignature):
            decoded.verify(SIGNER.public)
    for cut in (1, 64, len(wire) - 1):
        with pytest.raises(MessageFormatError):
            type(message).decode(wire[:cut])
    with pytest.raises(MessageFormatError):
        type(message).decode(wire + b"\x00")


def test_the_stage_deadline_survives_export_and_restore() -> None:
    """A client rebuilt from its exported state (a fresh Flower process) keeps its deadline."""
    now = [1000.0]
    fed = Federation.create(5, bits=32, length=8, timeouts_s=(7, 8, 9, 10, 11))
    cid = fed.server.params.participants[0]

    def restored(blob: bytes) -> SecAggClient:
        return SecAggClient.restore(
            fed.client_identities[cid],
            fed.server_identity.public,
            fed.roster,
            blob,
            clock=lambda: now[0],
        )

    client = restored(
        SecAggClient(
            fed.client_identities[cid],
            fed.server_identity.public,
            fed.roster,
            clock=lambda: now[0],
        ).export_state()
    )
    now[0] += 10**9  # no deadline before the first stage, however late
    client.advertise_keys(fed.server.configure())
    state = client.export_state()
    assert json.loads(state)["deadline"] == now[0] + 7
    now[0] += 7
    assert restored(state).phase is client.phase
    now[0] += 1
    with pytest.raises(SecAggTimeout):
        restored(state).share_keys(b"")


def test_the_parameter_summary_names_the_graph_and_the_neighbourhood_size() -> None:
    complete = Federation.create(4, bits=32, length=8).server.params
    assert complete.complete and complete.describe().startswith(
        f"4 clients, complete graph, threshold {complete.threshold} of {complete.k + 1} per"
    )
    sparse = Federation.create(12, bits=32, length=8, k=4, threshold=4).server.params
    assert not sparse.complete and sparse.describe().startswith(
        f"12 clients, SecAgg+ 4-regular graph, threshold {sparse.threshold} of 5 per"
    )
