"""Secure-aggregation messages: typed, frozen, versioned, byte-encoded, signed.

Same codec as :mod:`fical_secure.protocol.messages` (``MAGIC || version ||
kind || fields``, canonical, consumed exactly). Every message carries the
round id and the config hash, so one from another round or configuration is
refused before anything else is looked at. A signed message signs
``label || SHA-256(body)`` (one label per kind, in :mod:`fical_secure.crypto.labels`)
with the sender's Ed25519 identity key; ``decode`` never verifies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Final

from fical_secure.crypto import labels
from fical_secure.errors import InvalidSignature, MessageFormatError, WrongRoundError
from fical_secure.protocol.codec import Reader, Writer, blob_bytes
from fical_secure.protocol.messages import HASH_LEN, KEY_ID_LEN, Signer, Verifier, sha256

# wire kinds (never renumber; 1..5 are the sealed protocol's)
KIND_CONFIG: Final = 16
KIND_ADVERTISE: Final = 17
KIND_DIRECTORY: Final = 18
KIND_SHARE_KEYS: Final = 19
KIND_SHARE_BUNDLE: Final = 20
KIND_MASKED_INPUT: Final = 21
KIND_SURVIVORS: Final = 22
KIND_ACK: Final = 23
KIND_UNMASK_REQUEST: Final = 24
KIND_UNMASK_SHARES: Final = 25
KIND_SHARE_PAYLOAD: Final = 26

_LABELS: Final = {
    KIND_CONFIG: labels.SECAGG_CONFIG_SIGNATURE,
    KIND_ADVERTISE: labels.SECAGG_ADVERTISE_SIGNATURE,
    KIND_SHARE_KEYS: labels.SECAGG_SHARE_KEYS_SIGNATURE,
    KIND_MASKED_INPUT: labels.SECAGG_MASKED_INPUT_SIGNATURE,
    KIND_SURVIVORS: labels.SECAGG_SURVIVORS_SIGNATURE,
    KIND_ACK: labels.SECAGG_CONSISTENCY_SIGNATURE,
    KIND_UNMASK_SHARES: labels.SECAGG_UNMASK_SIGNATURE,
}
_SIG_LEN: Final = 64


def _signed_data(kind: int, body: bytes) -> bytes:
    return _LABELS[kind] + sha256(body)


def _ids(w: Writer, ids: tuple[bytes, ...]) -> None:
    w.u32(len(ids))
    for key_id in ids:
        w.raw(key_id, KEY_ID_LEN)


def _read_ids(r: Reader) -> tuple[bytes, ...]:
    return tuple(r.raw(KEY_ID_LEN) for _ in range(r.u32()))


def _blobs(w: Writer, items: tuple[bytes, ...]) -> None:
    w.u32(len(items))
    for item in items:
        w.blob(item)


def _read_blobs(r: Reader) -> tuple[bytes, ...]:
    return tuple(r.blob() for _ in range(r.u32()))


@dataclass(frozen=True)
class Signed:
    """Common fields: round, config hash, signer key id; the signature last."""

    round_id: int
    config_hash: bytes
    signer_id: bytes

    KIND: ClassVar[int] = 0

    def _fields(self, w: Writer) -> None:
        raise NotImplementedError

    def body(self) -> bytes:
        """Canonical encoding of every field but the signature."""
        w = Writer(self.KIND).u64(self.round_id).raw(self.config_hash, HASH_LEN)
        w.raw(self.signer_id, KEY_ID_LEN)
        self._fields(w)
        return w.finish()

    def encode(self) -> bytes:
        """Full wire encoding, signature included."""
        return self.body() + blob_bytes(self.signature)

    @property
    def signature(self) -> bytes:
        """The Ed25519 signature over ``label || SHA-256(body)``."""
        return getattr(self, "sig", b"")

    def signed_by(self, signer: Signer) -> bytes:
        """Encode, signed by ``signer`` (whose key id must be ``signer_id``)."""
        if signer.key_id != self.signer_id:
            raise InvalidSignature("signer is not the message's signer_id")
        return replace(self, sig=signer.sign(_signed_data(self.KIND, self.body()))).encode()  # type: ignore[call-arg]

    def verify(self, verifier: Verifier) -> None:
        """Raises InvalidSignature unless ``verifier`` signed exactly this message."""
        if verifier.key_id != self.signer_id:
            raise InvalidSignature("message was signed by another key")
        verifier.verify(self.signature, _signed_data(self.KIND, self.body()))

    def check_round(self, round_id: int, config_hash: bytes) -> None:
        """Raises WrongRoundError unless the message belongs to this round and config."""
        if self.round_id != round_id or self.config_hash != config_hash:
            raise WrongRoundError(
                f"message of round {self.round_id} does not belong to round {round_id} under"
                " this configuration (a replay or a misrouted message)"
            )


def _head(r: Reader) -> tuple[int, bytes, bytes]:
    return r.u64(), r.raw(HASH_LEN), r.raw(KEY_ID_LEN)


def _finish(r: Reader) -> bytes:
    sig = r.blob()
    r.done()
    if len(sig) != _SIG_LEN:
        raise MessageFormatError("signature must be 64 bytes")
    return sig


@dataclass(frozen=True)
class SecAggConfig(Signed):
    """The server-signed round configuration (``config_hash`` is zero-filled in it)."""

    participants: tuple[bytes, ...]
    threshold: int
    k: int
    bits: int
    length: int
    graph_seed: bytes
    timeouts_s: tuple[int, ...]
    created_at: int
    sig: bytes = b""
    KIND: ClassVar[int] = KIND_CONFIG

    def _fields(self, w: Writer) -> None:
        _ids(w, self.participants)
        w.u32(self.threshold).u32(self.k).u8(self.bits).u32(self.length)
        w.raw(self.graph_seed, 32).u8(len(self.timeouts_s))
        for timeout in self.timeouts_s:
            w.u32(timeout)
        w.u64(self.created_at)

    @property
    def hash(self) -> bytes:
        """SHA-256 of the full signed encoding: the config hash of every later message."""
        return sha256(self.encode())

    @classmethod
    def decode(cls, data: bytes) -> SecAggConfig:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_CONFIG)
        head = _head(r)
        parts = _read_ids(r)
        t, k, bits, length, seed = r.u32(), r.u32(), r.u8(), r.u32(), r.raw(32)
        timeouts = tuple(r.u32() for _ in range(r.u8()))
        return cls(*head, parts, t, k, bits, length, seed, timeouts, r.u64(), _finish(r))


@dataclass(frozen=True)
class AdvertiseKeys(Signed):
    """A client's per-round X25519 keys: one to receive shares, one for pairwise masks."""

    encryption_public: bytes
    mask_public: bytes
    sig: bytes = b""
    KIND: ClassVar[int] = KIND_ADVERTISE

    def _fields(self, w: Writer) -> None:
        w.raw(self.encryption_public, 32).raw(self.mask_public, 32)

    @classmethod
    def decode(cls, data: bytes) -> AdvertiseKeys:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_ADVERTISE)
        return cls(*_head(r), r.raw(32), r.raw(32), _finish(r))


@dataclass(frozen=True)
class Relay:
    """Server -> client: client-signed messages relayed unchanged (each verified by the reader)."""

    round_id: int
    config_hash: bytes
    kind: int  # KIND_DIRECTORY, KIND_SHARE_BUNDLE or KIND_UNMASK_REQUEST
    items: tuple[bytes, ...]

    def encode(self) -> bytes:
        """Wire encoding."""
        w = Writer(self.kind).u64(self.round_id).raw(self.config_hash, HASH_LEN)
        _blobs(w, self.items)
        return w.finish()

    @classmethod
    def decode(cls, data: bytes, kind: int) -> Relay:
        """Parse a relay of ``kind``. Raises MessageFormatError if malformed."""
        r = Reader(data, kind)
        msg = cls(r.u64(), r.raw(HASH_LEN), kind, _read_blobs(r))
        r.done()
        return msg


@dataclass(frozen=True)
class ShareKeys(Signed):
    """A dealer's sealed shares, one envelope per holder, and its commitments.

    ``holders[i]`` receives ``envelopes[i]`` (empty for the dealer itself, who
    keeps its own share); ``self_commitments[i]`` / ``mask_commitments[i]``
    commit to that holder's share of the self-mask seed / the mask key;
    ``seed_commitment`` commits to the self-mask seed itself.
    """

    holders: tuple[bytes, ...]
    envelopes: tuple[bytes, ...]
    self_commitments: tuple[bytes, ...]
    mask_commitments: tuple[bytes, ...]
    seed_commitment: bytes
    sig: bytes = b""
    KIND: ClassVar[int] = KIND_SHARE_KEYS

    def _fields(self, w: Writer) -> None:
        n = len(self.holders)
        if not n == len(self.envelopes) == len(self.self_commitments) == len(self.mask_commitments):
            raise MessageFormatError("share-keys lists differ in length")
        _ids(w, self.holders)
        _blobs(w, self.envelopes)
        for c in (*self.self_commitments, *self.mask_commitments, self.seed_commitment):
            w.raw(c, HASH_LEN)

    @classmethod
    def decode(cls, data: bytes) -> ShareKeys:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_SHARE_KEYS)
        head = _head(r)
        holders, envelopes = _read_ids(r), _read_blobs(r)
        if len(envelopes) != len(holders):
            raise MessageFormatError("share-keys lists differ in length")
        selfc = tuple(r.raw(HASH_LEN) for _ in holders)
        maskc = tuple(r.raw(HASH_LEN) for _ in holders)
        return cls(*head, holders, envelopes, selfc, maskc, r.raw(HASH_LEN), _finish(r))


@dataclass(frozen=True)
class SharePayload:
    """The plaintext inside one share envelope (the envelope is dealer-signed)."""

    dealer_id: bytes
    holder_id: bytes
    x: int
    self_share: bytes
    mask_share: bytes

    def encode(self) -> bytes:
        """Wire encoding."""
        w = Writer(KIND_SHARE_PAYLOAD).raw(self.dealer_id, KEY_ID_LEN)
        w.raw(self.holder_id, KEY_ID_LEN).u32(self.x)
        return w.blob(self.self_share).blob(self.mask_share).finish()

    @classmethod
    def decode(cls, data: bytes) -> SharePayload:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_SHARE_PAYLOAD)
        msg = cls(r.raw(KEY_ID_LEN), r.raw(KEY_ID_LEN), r.u32(), r.blob(), r.blob())
        r.done()
        return msg


@dataclass(frozen=True)
class MaskedInput(Signed):
    """A client's masked vector: ``length`` little-endian words modulo 2^bits."""

    vector: bytes
    sig: bytes = b""
    KIND: ClassVar[int] = KIND_MASKED_INPUT

    def _fields(self, w: Writer) -> None:
        w.blob(self.vector)

    @classmethod
    def decode(cls, data: bytes) -> MaskedInput:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_MASKED_INPUT)
        return cls(*_head(r), r.blob(), _finish(r))


@dataclass(frozen=True)
class SurvivorList(Signed):
    """Server-signed: who sent a masked input (survivors) and who shared keys but did not."""

    survivors: tuple[bytes, ...]
    dropped: tuple[bytes, ...]
    sig: bytes = b""
    KIND: ClassVar[int] = KIND_SURVIVORS

    def _fields(self, w: Writer) -> None:
        _ids(w, self.survivors)
        _ids(w, self.dropped)

    @classmethod
    def decode(cls, data: bytes) -> SurvivorList:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_SURVIVORS)
        return cls(*_head(r), _read_ids(r), _read_ids(r), _finish(r))


@dataclass(frozen=True)
class ConsistencyAck(Signed):
    """A client's signature over the survivor list it was shown."""

    survivors_hash: bytes
    sig: bytes = b""
    KIND: ClassVar[int] = KIND_ACK

    def _fields(self, w: Writer) -> None:
        w.raw(self.survivors_hash, HASH_LEN)

    @classmethod
    def decode(cls, data: bytes) -> ConsistencyAck:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_ACK)
        return cls(*_head(r), r.raw(HASH_LEN), _finish(r))


@dataclass(frozen=True)
class UnmaskShares(Signed):
    """A holder's revealed shares: self-mask seeds of survivors, mask keys of dropped."""

    self_dealers: tuple[bytes, ...]
    self_shares: tuple[bytes, ...]
    mask_dealers: tuple[bytes, ...]
    mask_shares: tuple[bytes, ...]
    sig: bytes = b""
    KIND: ClassVar[int] = KIND_UNMASK_SHARES

    def _fields(self, w: Writer) -> None:
        if len(self.self_dealers) != len(self.self_shares) or len(self.mask_dealers) != len(
            self.mask_shares
        ):
            raise MessageFormatError("unmask lists differ in length")
        _ids(w, self.self_dealers)
        _blobs(w, self.self_shares)
        _ids(w, self.mask_dealers)
        _blobs(w, self.mask_shares)

    @classmethod
    def decode(cls, data: bytes) -> UnmaskShares:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_UNMASK_SHARES)
        head = _head(r)
        sd, ss, md, ms = _read_ids(r), _read_blobs(r), _read_ids(r), _read_blobs(r)
        if len(sd) != len(ss) or len(md) != len(ms):
            raise MessageFormatError("unmask lists differ in length")
        return cls(*head, sd, ss, md, ms, _finish(r))
