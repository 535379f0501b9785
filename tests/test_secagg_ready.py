"""The ready statement's wire format and signature, pinned byte for byte.

A hospital's ready reply is the only thing it says about itself before the
secure sum (threat model: secure aggregation, attacks 2 and 8), so its
encoding, the statuses it admits and the signed data are fixed here
independently of :mod:`fical_secure.protocol.secagg.ready`.
"""

from __future__ import annotations

import hashlib
import struct

import pytest

from fical_secure.crypto import labels
from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.identity import IdentityKey
from fical_secure.errors import (
    InvalidSignature,
    MessageFormatError,
    NotEnrolledError,
    WrongRoundError,
)
from fical_secure.protocol.secagg.ready import (
    BLOCKED,
    READY,
    ReadyStatement,
    sign_ready,
    verify_ready,
)

CONFIG = bytes(range(32))
ROUND = 0x0102030405060708


def _body(round_id: int, config: bytes, key_id: bytes, status: int) -> bytes:
    """The body as the wire format defines it: magic, version, kind 40, fields big-endian."""
    return b"FSP" + bytes([1, 40]) + struct.pack(">Q", round_id) + config + key_id + bytes([status])


@pytest.fixture(scope="module")
def parties() -> tuple[IdentityKey, IdentityKey, Roster]:
    server, hospital, other = (IdentityKey.generate() for _ in range(3))
    return hospital, other, Roster.create(server, [hospital.public, other.public], epoch=1)


def test_the_statement_encodes_to_the_documented_bytes(
    parties: tuple[IdentityKey, IdentityKey, Roster],
) -> None:
    hospital, _, _ = parties
    blob = sign_ready(hospital, ROUND, CONFIG, ready=True)
    body = _body(ROUND, CONFIG, hospital.key_id, 1)
    assert blob[: len(body)] == body
    sig = blob[len(body) + 4 :]
    assert blob[len(body) : len(body) + 4] == struct.pack(">I", 64) and len(sig) == 64
    signed = labels.SECAGG_READY_SIGNATURE + hashlib.sha256(body).digest()
    hospital.public.verify(sig, signed)  # the label and the body's hash, nothing else
    with pytest.raises(InvalidSignature):
        hospital.public.verify(sig, hashlib.sha256(body).digest())


def test_blocked_is_status_two_and_both_names_read_back(
    parties: tuple[IdentityKey, IdentityKey, Roster],
) -> None:
    hospital, _, roster = parties
    blocked = sign_ready(hospital, ROUND, CONFIG, ready=False)
    assert blocked[len(_body(ROUND, CONFIG, hospital.key_id, 2)) - 1] == BLOCKED == 2
    assert verify_ready(blocked, roster, ROUND, CONFIG).name == "blocked"
    statement = verify_ready(sign_ready(hospital, ROUND, CONFIG, ready=True), roster, ROUND, CONFIG)
    assert (statement.status, statement.name) == (READY, "ready") and READY == 1
    assert (statement.round_id, statement.config_hash, statement.signer_id) == (
        ROUND,
        CONFIG,
        hospital.key_id,
    )


def test_decode_round_trips_and_refuses_every_malformed_variant(
    parties: tuple[IdentityKey, IdentityKey, Roster],
) -> None:
    hospital, _, _ = parties
    blob = sign_ready(hospital, ROUND, CONFIG, ready=True)
    assert ReadyStatement.decode(blob).encode() == blob
    body_len = len(_body(ROUND, CONFIG, hospital.key_id, 1))
    for status in (0, 3, 255):
        bad = bytearray(blob)
        bad[body_len - 1] = status
        with pytest.raises(MessageFormatError):
            ReadyStatement.decode(bytes(bad))
    for sig_len in (0, 63, 65):
        statement = ReadyStatement(ROUND, CONFIG, hospital.key_id, READY, b"s" * sig_len)
        with pytest.raises(MessageFormatError):
            ReadyStatement.decode(statement.encode())
    for malformed in (blob + b"\x00", blob[:-1], blob[:body_len], b"", b"XYZ" + blob[3:]):
        with pytest.raises(MessageFormatError):
            ReadyStatement.decode(malformed)
    other_kind = bytearray(blob)
    other_kind[4] = 41
    with pytest.raises(MessageFormatError):
        ReadyStatement.decode(bytes(other_kind))


def test_verify_binds_round_config_status_and_signer(
    parties: tuple[IdentityKey, IdentityKey, Roster],
) -> None:
    hospital, other, roster = parties
    blob = sign_ready(hospital, ROUND, CONFIG, ready=True)
    with pytest.raises(WrongRoundError):
        verify_ready(blob, roster, ROUND + 1, CONFIG)
    with pytest.raises(WrongRoundError):
        verify_ready(blob, roster, ROUND, bytes(32))
    body_len = len(_body(ROUND, CONFIG, hospital.key_id, 1))
    flipped = bytearray(blob)
    flipped[body_len - 1] = BLOCKED  # "ready" turned into "blocked" by the server
    with pytest.raises(InvalidSignature):
        verify_ready(bytes(flipped), roster, ROUND, CONFIG)
    squatted = ReadyStatement.decode(blob)
    claimed = ReadyStatement(ROUND, CONFIG, other.key_id, READY, squatted.sig).encode()
    with pytest.raises(InvalidSignature):  # another enrolled hospital's key id
        verify_ready(claimed, roster, ROUND, CONFIG)
    outsider = IdentityKey.generate()
    with pytest.raises(NotEnrolledError):
        verify_ready(sign_ready(outsider, ROUND, CONFIG, ready=True), roster, ROUND, CONFIG)
