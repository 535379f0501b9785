"""Boundary values of the crypto core, each side of every bound.

Payload bounds of the envelope (checked with a small ``MAX_PAYLOAD_SIZE`` so
both sides fit in memory), the length bounds of a parsed envelope, the X25519
low-order check on every encoding of every low-order point (canonical,
non-canonical u + p, top bit set), the 24-bit chunk bound of Shamir
reconstruction, and the keystream buffer bound.
"""

from __future__ import annotations

import pytest

from fical_secure.crypto import envelope as env
from fical_secure.crypto import primitives, shamir
from fical_secure.crypto.keys import IdentityKey, RoundKey
from fical_secure.errors import InvalidEnvelope, InvalidPeerKey, InvalidShare, KeyMisuseError

P = 2**255 - 19
TOP_BIT = 1 << 255
LOW_ORDER_U = (
    0,
    1,
    P - 1,
    0x00B8495F16056286FDB1329CEB8D09DA6AC49FF1FAE35616AEB8413B7C7AEBE0,
    0x57119FD0DD4E22D8868E1C58C45C44045BEF839C55B1D0B1248C50A3BC959C5F,
)
SENDER, RECIPIENT = IdentityKey.generate(), RoundKey.generate()
CONTEXT = env.EnvelopeContext(round_id=4, stage=1, config_hash=bytes(32))
LIMIT = 64


def _encodings(u: int) -> list[int]:
    """Every 256-bit string that decodes to ``u`` under RFC 7748."""
    values = [u] + ([u + P] if u + P < TOP_BIT else [])
    return values + [v | TOP_BIT for v in values]


def _seal_unchecked(payload: bytes) -> bytes:
    """Seal without the size check of ``seal`` (a hostile sender's envelope)."""
    return env._seal_with(
        payload,
        sender=SENDER,
        recipient_public=RECIPIENT.public_bytes(),
        context=CONTEXT,
        ephemeral=RoundKey.generate(),
        nonce=bytes(12),
    )


def _open(blob: bytes) -> bytes:
    return env.open_envelope(
        blob, recipient=RECIPIENT, sender_public=SENDER.public, context=CONTEXT
    )


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env, "MAX_PAYLOAD_SIZE", LIMIT)


@pytest.mark.usefixtures("small_limit")
def test_a_payload_of_exactly_the_limit_seals_and_opens() -> None:
    blob = env.seal(
        bytes(LIMIT),
        sender=SENDER,
        recipient_public=RECIPIENT.public_bytes(),
        recipient_key_id=RECIPIENT.key_id,
        context=CONTEXT,
    )
    assert len(blob) == env.ENVELOPE_OVERHEAD + LIMIT
    assert _open(blob) == bytes(LIMIT)
    assert env.read_header(blob).context == CONTEXT


@pytest.mark.usefixtures("small_limit")
def test_one_byte_over_the_limit_is_refused_by_seal_and_by_open() -> None:
    with pytest.raises(KeyMisuseError):
        env.seal(
            bytes(LIMIT + 1),
            sender=SENDER,
            recipient_public=RECIPIENT.public_bytes(),
            recipient_key_id=RECIPIENT.key_id,
            context=CONTEXT,
        )
    oversized = _seal_unchecked(bytes(LIMIT + 1))
    for check in (lambda: _open(oversized), lambda: env.read_header(oversized)):
        with pytest.raises(InvalidEnvelope):
            check()
    with pytest.raises(InvalidEnvelope):
        env.verify_envelope(oversized, SENDER.public)


def test_an_envelope_of_exactly_the_overhead_opens_and_one_byte_less_is_refused() -> None:
    blob = _seal_unchecked(b"")
    assert len(blob) == env.ENVELOPE_OVERHEAD and _open(blob) == b""
    env.verify_envelope(blob, SENDER.public)
    for short in (blob[:-1], blob[: env.HEADER_SIZE], b""):
        with pytest.raises(InvalidEnvelope):
            env.read_header(short)
        with pytest.raises(InvalidEnvelope):
            _open(short)


@pytest.mark.parametrize("u", LOW_ORDER_U, ids=lambda u: f"u={u:#x}"[:14])
def test_every_encoding_of_a_low_order_point_is_refused(u: int) -> None:
    private = RoundKey.generate()
    for value in _encodings(u):
        public = value.to_bytes(32, "little")
        assert primitives.is_low_order_x25519(public), hex(value)
        with pytest.raises(InvalidPeerKey):
            private.exchange(public)


@pytest.mark.parametrize("u", [2, 9, P - 2, P - 20, (1 << 254) + 5], ids=str)
def test_large_order_points_in_every_encoding_are_accepted(u: int) -> None:
    for value in _encodings(u):
        assert not primitives.is_low_order_x25519(value.to_bytes(32, "little")), hex(value)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_an_x25519_key_of_the_wrong_size_is_misuse(size: int) -> None:
    with pytest.raises(KeyMisuseError):
        primitives.is_low_order_x25519(bytes(size))
    with pytest.raises(KeyMisuseError):
        primitives.x25519(bytes(32), bytes(size))


def _cheating_dealing(value: int) -> tuple[list[shamir.Share], dict[int, bytes], dict[int, bytes]]:
    """Two committed shares of a 3-byte secret interpolating to ``value`` at 0.

    With x = 1, 2 the secret is 2 * y1 - y2 mod p; y1 = 0 leaves y2 = p - value.
    """
    shares = [shamir.Share(1, bytes(4)), shamir.Share(2, (shamir.PRIME - value).to_bytes(4, "big"))]
    contexts = {s.x: b"ctx-%d" % s.x for s in shares}
    return shares, contexts, {s.x: shamir.commit_share(s, contexts[s.x]) for s in shares}


def test_an_interpolated_chunk_of_24_bits_decodes_and_one_over_is_refused() -> None:
    shares, contexts, commitments = _cheating_dealing((1 << 24) - 1)
    assert (
        shamir.combine(
            shares, threshold=2, secret_len=3, contexts=contexts, commitments=commitments
        )
        == b"\xff\xff\xff"
    )
    for value in (1 << 24, 1 << 27, shamir.PRIME - 1):
        shares, contexts, commitments = _cheating_dealing(value)
        with pytest.raises(InvalidShare):
            shamir.combine(
                shares, threshold=2, secret_len=3, contexts=contexts, commitments=commitments
            )


@pytest.mark.parametrize("missing", ["contexts", "commitments"])
def test_a_share_without_its_context_or_commitment_is_refused(missing: str) -> None:
    shares, contexts, commitments = _cheating_dealing(5)
    del {"contexts": contexts, "commitments": commitments}[missing][2]
    with pytest.raises(InvalidShare):
        shamir.combine(
            shares, threshold=2, secret_len=3, contexts=contexts, commitments=commitments
        )


def test_misuse_errors_name_the_argument() -> None:
    blob = _seal_unchecked(b"x")
    with pytest.raises(KeyMisuseError, match=r"^payload must be bytes-like"):
        env.seal(
            "x",  # type: ignore[arg-type]
            sender=SENDER,
            recipient_public=RECIPIENT.public_bytes(),
            recipient_key_id=RECIPIENT.key_id,
            context=CONTEXT,
        )
    for call in (
        lambda: env.read_header("x"),  # type: ignore[arg-type]
        lambda: env.verify_envelope("x", SENDER.public),  # type: ignore[arg-type]
        lambda: env.open_envelope(
            "x",  # type: ignore[arg-type]
            recipient=RECIPIENT,
            sender_public=SENDER.public,
            context=CONTEXT,
        ),
    ):
        with pytest.raises(KeyMisuseError, match=r"^blob must be bytes-like"):
            call()
    assert _open(blob) == b"x"


def test_the_keystream_buffer_needs_exactly_15_spare_bytes() -> None:
    zeros = memoryview(bytes(32))
    primitives.aes256_ctr_keystream_into(bytes(32), zeros, memoryview(bytearray(47)))
    with pytest.raises(KeyMisuseError):
        primitives.aes256_ctr_keystream_into(bytes(32), zeros, memoryview(bytearray(46)))
    with pytest.raises(KeyMisuseError):
        primitives.aes256_ctr_keystream_into(bytes(31), zeros, memoryview(bytearray(47)))


def test_hkdf_lengths_from_one_to_the_maximum_are_accepted() -> None:
    for length in (1, primitives.HKDF_SHA256_MAX_LENGTH):
        assert len(primitives.hkdf_sha256(b"k", salt=b"", info=b"i", length=length)) == length
    for length in (0, primitives.HKDF_SHA256_MAX_LENGTH + 1):
        with pytest.raises(KeyMisuseError):
            primitives.hkdf_sha256(b"k", salt=b"", info=b"i", length=length)


@pytest.mark.parametrize(
    ("x", "y"),
    [(True, bytes(4)), ("1", bytes(4)), (1, b""), (1, b"abc"), (1, "abcd"), (0, bytes(4))],
    ids=["bool-x", "str-x", "empty-y", "ragged-y", "str-y", "zero-x"],
)
def test_a_malformed_share_is_misuse(x: object, y: object) -> None:
    with pytest.raises(KeyMisuseError):
        shamir.Share(x, y)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("secrets", "threshold"),
    [([], 2), ([b""], 2), ([b"ab", b"abc"], 2), ([b"abc"], True), ([b"abc"], 2.0)],
    ids=["none", "empty", "unequal", "bool-threshold", "float-threshold"],
)
def test_bad_secrets_or_threshold_types_are_misuse(secrets: list[bytes], threshold: int) -> None:
    with pytest.raises(KeyMisuseError):
        shamir.split(secrets, [1, 2, 3], threshold)


def test_the_field_sampler_rejects_p_and_draws_only_what_is_missing() -> None:
    """The word p (0x7fffffff) is not a field element: it is dropped and redrawn alone."""
    draws = [
        (12, b"\xff\xff\xff\x7f" + (5).to_bytes(4, "little") + (6).to_bytes(4, "little")),
        (4, (0x80000007).to_bytes(4, "little")),  # the top bit is masked off
    ]

    def randbytes(size: int) -> bytes:
        want, data = draws.pop(0)
        assert size == want
        return data

    assert shamir._uniform_field(3, randbytes).tolist() == [5, 6, 7]
    assert draws == []
