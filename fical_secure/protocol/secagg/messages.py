"""Secure-aggregation messages: typed, frozen, versioned, byte-encoded, signed.

One dataclass per message of the five stages; the codec, kinds, signature
labels and the signed base class are in :mod:`.wire`. ``decode`` never
verifies: callers verify explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from fical_secure.errors import MessageFormatError
from fical_secure.protocol.codec import Reader, Writer
from fical_secure.protocol.messages import HASH_LEN, KEY_ID_LEN, sha256
from fical_secure.protocol.secagg.wire import (
    KIND_ACK,
    KIND_ADVERTISE,
    KIND_CONFIG,
    KIND_DIRECTORY,
    KIND_MASKED_INPUT,
    KIND_SHARE_BUNDLE,
    KIND_SHARE_KEYS,
    KIND_SHARE_PAYLOAD,
    KIND_SURVIVORS,
    KIND_UNMASK_REQUEST,
    KIND_UNMASK_SHARES,
    Signed,
    blobs,
    finish,
    head,
    ids,
    read_blobs,
    read_ids,
)

__all__ = [
    "KIND_DIRECTORY",
    "KIND_SHARE_BUNDLE",
    "KIND_UNMASK_REQUEST",
    "AdvertiseKeys",
    "ConsistencyAck",
    "MaskedInput",
    "Relay",
    "SecAggConfig",
    "ShareKeys",
    "SharePayload",
    "SurvivorList",
    "UnmaskShares",
]


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
        ids(w, self.participants)
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
        fields = head(r)
        parts = read_ids(r)
        t, k, bits, length, seed = r.u32(), r.u32(), r.u8(), r.u32(), r.raw(32)
        timeouts = tuple(r.u32() for _ in range(r.u8()))
        return cls(*fields, parts, t, k, bits, length, seed, timeouts, r.u64(), finish(r))


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
        return cls(*head(r), r.raw(32), r.raw(32), finish(r))


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
        blobs(w, self.items)
        return w.finish()

    @classmethod
    def decode(cls, data: bytes, kind: int) -> Relay:
        """Parse a relay of ``kind``. Raises MessageFormatError if malformed."""
        r = Reader(data, kind)
        msg = cls(r.u64(), r.raw(HASH_LEN), kind, read_blobs(r))
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
        ids(w, self.holders)
        blobs(w, self.envelopes)
        for c in (*self.self_commitments, *self.mask_commitments, self.seed_commitment):
            w.raw(c, HASH_LEN)

    @classmethod
    def decode(cls, data: bytes) -> ShareKeys:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_SHARE_KEYS)
        fields = head(r)
        holders, envelopes = read_ids(r), read_blobs(r)
        if len(envelopes) != len(holders):
            raise MessageFormatError("share-keys lists differ in length")
        selfc = tuple(r.raw(HASH_LEN) for _ in holders)
        maskc = tuple(r.raw(HASH_LEN) for _ in holders)
        return cls(*fields, holders, envelopes, selfc, maskc, r.raw(HASH_LEN), finish(r))


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
    """A client's masked vector (``length`` little-endian words modulo 2^bits) and
    the dealers whose shares it could not open or verify (it masked without them)."""

    vector: bytes
    blamed: tuple[bytes, ...] = ()
    sig: bytes = b""
    KIND: ClassVar[int] = KIND_MASKED_INPUT

    def _fields(self, w: Writer) -> None:
        w.blob(self.vector)
        ids(w, self.blamed)

    @classmethod
    def decode(cls, data: bytes) -> MaskedInput:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_MASKED_INPUT)
        return cls(*head(r), r.blob(), read_ids(r), finish(r))


@dataclass(frozen=True)
class SurvivorList(Signed):
    """Server-signed: who sent a masked input (survivors), who shared keys but did not
    (dropped), and which of the dropped a holder blamed for spoiled shares."""

    survivors: tuple[bytes, ...]
    dropped: tuple[bytes, ...]
    blamed: tuple[bytes, ...] = ()
    sig: bytes = b""
    KIND: ClassVar[int] = KIND_SURVIVORS

    def _fields(self, w: Writer) -> None:
        ids(w, self.survivors)
        ids(w, self.dropped)
        ids(w, self.blamed)

    @classmethod
    def decode(cls, data: bytes) -> SurvivorList:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_SURVIVORS)
        return cls(*head(r), read_ids(r), read_ids(r), read_ids(r), finish(r))


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
        return cls(*head(r), r.raw(HASH_LEN), finish(r))


@dataclass(frozen=True)
class UnmaskShares(Signed):
    """A holder's revealed shares: self-mask seeds of survivors, mask keys of dropped,
    and its pairwise seeds with blamed dropped dealers (``pair_peers[i]`` /
    ``pair_seeds[i]``) for when too few holders accepted a blamed dealer's shares."""

    self_dealers: tuple[bytes, ...]
    self_shares: tuple[bytes, ...]
    mask_dealers: tuple[bytes, ...]
    mask_shares: tuple[bytes, ...]
    pair_peers: tuple[bytes, ...] = ()
    pair_seeds: tuple[bytes, ...] = ()
    sig: bytes = b""
    KIND: ClassVar[int] = KIND_UNMASK_SHARES

    def _fields(self, w: Writer) -> None:
        pairs = ((self.self_dealers, self.self_shares), (self.mask_dealers, self.mask_shares))
        if any(len(a) != len(b) for a, b in (*pairs, (self.pair_peers, self.pair_seeds))):
            raise MessageFormatError("unmask lists differ in length")
        for dealers, values in (*pairs, (self.pair_peers, self.pair_seeds)):
            ids(w, dealers)
            blobs(w, values)

    @classmethod
    def decode(cls, data: bytes) -> UnmaskShares:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_UNMASK_SHARES)
        fields = head(r)
        (sd, ss), (md, ms), (pp, ps) = [(read_ids(r), read_blobs(r)) for _ in range(3)]
        if len(sd) != len(ss) or len(md) != len(ms) or len(pp) != len(ps):
            raise MessageFormatError("unmask lists differ in length")
        return cls(*fields, sd, ss, md, ms, pp, ps, finish(r))
