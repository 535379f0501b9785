"""Protocol messages: canonical byte encoding, typed decode errors, signatures."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fical_secure.crypto import labels
from fical_secure.crypto.keys import IdentityKey
from fical_secure.errors import InvalidSignature, MessageFormatError, StageError
from fical_secure.protocol import messages as m
from fical_secure.protocol.codec import MAGIC, Reader, Writer
from fical_secure.protocol.stages import Stage

SERVER = IdentityKey.generate()
OTHER = IdentityKey.generate()
KID = SERVER.key_id
H32 = bytes(range(32))


def _config(**over: Any) -> m.RoundConfig:
    fields: dict[str, Any] = {
        "round_id": 7,
        "min_clients": 3,
        "stages": (Stage.OPEN, Stage.COLLECTING, Stage.AGGREGATING, Stage.DONE),
        "stage_deadlines": ((Stage.COLLECTING, 1_900_000_000),),
        "roster_hash": H32,
        "signed_round_key": b"k" * 121,
        "server_key_id": KID,
        "created_at": 1_800_000_000,
    }
    fields.update(over)
    return m.RoundConfig(**fields).signed(SERVER)


SIGNED_SAMPLES: list[Any] = [
    _config(),
    m.Receipt(7, H32, b"s" * 16, H32[::-1], 4, KID).signed(SERVER),
    m.Abort(7, H32, "too few clients: 1 of 3", KID).signed(SERVER),
    m.GlobalResult(7, H32, 3, b'{"entries": []}', KID).signed(SERVER),
]
ALL_SAMPLES: list[Any] = [*SIGNED_SAMPLES, m.Submission(b"\x00envelope bytes")]


@pytest.mark.parametrize("msg", ALL_SAMPLES, ids=lambda x: type(x).__name__)
def test_encoding_round_trips_exactly(msg: Any) -> None:
    data = msg.encode()
    again = type(msg).decode(data)
    assert again == msg
    assert again.encode() == data


@pytest.mark.parametrize("msg", SIGNED_SAMPLES, ids=lambda x: type(x).__name__)
def test_signed_message_verifies_and_any_field_change_breaks_it(msg: Any) -> None:
    msg.verify(SERVER.public)
    first = dataclasses.fields(msg)[0].name  # round_id in every signed message
    with pytest.raises(InvalidSignature):
        dataclasses.replace(msg, **{first: msg.round_id + 1}).verify(SERVER.public)


@pytest.mark.parametrize("msg", SIGNED_SAMPLES, ids=lambda x: type(x).__name__)
def test_signature_of_another_server_key_is_refused(msg: Any) -> None:
    with pytest.raises(InvalidSignature):
        msg.verify(OTHER.public)
    forged = dataclasses.replace(msg, server_key_id=OTHER.key_id).signed(OTHER)
    with pytest.raises(InvalidSignature):
        forged.verify(SERVER.public)


def test_signature_of_one_message_kind_does_not_verify_as_another() -> None:
    receipt = m.Receipt(7, H32, b"s" * 16, H32, 1, KID).signed(SERVER)
    abort = m.Abort(7, H32, "", KID, signature=receipt.signature)
    with pytest.raises(InvalidSignature):
        abort.verify(SERVER.public)


def test_protocol_signature_labels_are_disjoint_from_crypto_labels() -> None:
    ours = list(m._SIG_LABELS.values())
    every = ours + list(labels.ALL_LABELS)
    assert len(set(every)) == len(every)
    for a in ours:
        for b in every:
            assert a == b or not b.startswith(a)


def test_config_hash_changes_with_every_config_field() -> None:
    base = _config()
    variants = [
        _config(round_id=8),
        _config(min_clients=2),
        _config(roster_hash=H32[::-1]),
        _config(signed_round_key=b"j" * 121),
        _config(created_at=1),
        _config(stage_deadlines=((Stage.COLLECTING, 1_900_000_001),)),
    ]
    hashes = {base.config_hash, *(v.config_hash for v in variants)}
    assert len(hashes) == 1 + len(variants)
    assert base.deadline(Stage.COLLECTING) == 1_900_000_000
    assert base.deadline(Stage.AGGREGATING) is None


DECODERS: list[Callable[[bytes], Any]] = [
    m.RoundConfig.decode,
    m.Submission.decode,
    m.Receipt.decode,
    m.Abort.decode,
    m.GlobalResult.decode,
]


@pytest.mark.parametrize("msg", ALL_SAMPLES, ids=lambda x: type(x).__name__)
def test_every_truncation_and_trailing_byte_is_a_format_error(msg: Any) -> None:
    data = msg.encode()
    for cut in range(len(data)):
        with pytest.raises(MessageFormatError):
            type(msg).decode(data[:cut])
    with pytest.raises(MessageFormatError, match="trailing"):
        type(msg).decode(data + b"\x00")


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: b"XYZ" + d[3:], "magic"),
        (lambda d: d[:3] + b"\x02" + d[4:], "wire version"),
        (lambda d: d[:4] + b"\x03" + d[5:], "kind"),
    ],
)
def test_bad_header_is_a_format_error_saying_what(
    mutate: Callable[[bytes], bytes], match: str
) -> None:
    with pytest.raises(MessageFormatError, match=match):
        m.RoundConfig.decode(mutate(_config().encode()))


def test_unknown_stage_code_in_a_config_is_refused() -> None:
    data = bytearray(_config().encode())
    stage_list_at = len(MAGIC) + 2 + 8 + 4 + 1  # header, round id, min_clients, count
    data[stage_list_at] = 9
    with pytest.raises(StageError):
        m.RoundConfig.decode(bytes(data))


def test_oversize_length_prefix_is_refused_without_allocating() -> None:
    data = Writer(m.KIND_SUBMISSION).u32(0xFFFF_FFFF).finish()
    with pytest.raises(MessageFormatError):
        m.Submission.decode(data)


def test_non_utf8_abort_reason_is_a_format_error() -> None:
    body = Writer(m.KIND_ABORT).u64(1).raw(H32, 32).blob(b"\xff\xfe").raw(KID, 16).blob(b"s")
    with pytest.raises(MessageFormatError, match="UTF-8"):
        m.Abort.decode(body.finish())


@pytest.mark.parametrize("value", [-1, 256, True, 1.5])
def test_writer_refuses_out_of_range_integers(value: Any) -> None:
    with pytest.raises(MessageFormatError):
        Writer(1).u8(value)


def test_reader_refuses_non_bytes() -> None:
    with pytest.raises(MessageFormatError):
        Reader("FSP", 1)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    round_id=st.integers(0, 2**64 - 1),
    seq=st.integers(0, 2**32 - 1),
    sender=st.binary(min_size=16, max_size=16),
    digest=st.binary(min_size=32, max_size=32),
)
def test_receipt_round_trips_for_any_field_values(
    round_id: int, seq: int, sender: bytes, digest: bytes
) -> None:
    receipt = m.Receipt(round_id, H32, sender, digest, seq, KID, b"sig")
    assert m.Receipt.decode(receipt.encode()) == receipt


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_decode_into_anything_but_a_typed_error(blob: bytes) -> None:
    for decode in DECODERS:
        try:
            decode(blob)
        except (MessageFormatError, StageError):
            pass
