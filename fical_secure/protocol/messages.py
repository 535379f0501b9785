"""Typed, frozen, versioned protocol messages with an explicit byte encoding.

Server-signed messages sign ``LABEL || body`` where ``body`` is the canonical
encoding of every field but the signature; each message kind has its own label,
so a signature over one kind can never be replayed as another. The full
encoding is ``body || blob(signature)``. ``decode`` raises
:class:`MessageFormatError` on any malformation; ``verify`` raises
:class:`InvalidSignature`. Decoding never verifies: callers verify explicitly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Final, Protocol

from fical_secure.errors import InvalidSignature, MessageFormatError
from fical_secure.protocol.codec import Reader, Writer, blob_bytes
from fical_secure.protocol.stages import Stage

KEY_ID_LEN: Final = 16
HASH_LEN: Final = 32
MAX_REASON_BYTES: Final = 1024

# message kinds (wire codes; never renumber)
KIND_ROUND_CONFIG: Final = 1
KIND_SUBMISSION: Final = 2
KIND_RECEIPT: Final = 3
KIND_ABORT: Final = 4
KIND_GLOBAL_RESULT: Final = 5

# signature domain-separation labels, one per signed kind
_SIG_LABELS: Final[dict[int, bytes]] = {
    KIND_ROUND_CONFIG: b"fical-secure/v1/sig/round-config\x00",
    KIND_RECEIPT: b"fical-secure/v1/sig/receipt\x00",
    KIND_ABORT: b"fical-secure/v1/sig/abort\x00",
    KIND_GLOBAL_RESULT: b"fical-secure/v1/sig/global-result\x00",
}


class Signer(Protocol):
    """What a signed message needs from the server's identity key."""

    @property
    def key_id(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


class Verifier(Protocol):
    """What verification needs from the server's public identity key."""

    @property
    def key_id(self) -> bytes: ...

    def verify(self, signature: bytes, data: bytes) -> None: ...


def sha256(data: bytes) -> bytes:
    """SHA-256 digest (the hash used for config hashes and envelope ids)."""
    return hashlib.sha256(data).digest()


def _sign(kind: int, body: bytes, signer: Signer) -> bytes:
    return signer.sign(_SIG_LABELS[kind] + body)


def _verify(kind: int, body: bytes, key_id: bytes, sig: bytes, verifier: Verifier) -> None:
    if key_id != verifier.key_id:
        raise InvalidSignature("message was signed by another server key")
    verifier.verify(sig, _SIG_LABELS[kind] + body)


@dataclass(frozen=True)
class RoundConfig:
    """Everything a client must agree on before sealing; server-signed.

    ``config_hash`` (SHA-256 of the full signed encoding) goes into every
    envelope's associated data, binding each submission to this exact config.
    """

    round_id: int
    min_clients: int
    stages: tuple[Stage, ...]
    stage_deadlines: tuple[tuple[Stage, int], ...]  # (stage, unix seconds it must end by)
    roster_hash: bytes  # SHA-256 of the encoded server-signed roster
    signed_round_key: bytes  # SignedRoundKey.encode()
    server_key_id: bytes
    created_at: int  # unix seconds
    signature: bytes = b""

    def body(self) -> bytes:
        """Canonical encoding of every field but the signature."""
        w = Writer(KIND_ROUND_CONFIG).u64(self.round_id).u32(self.min_clients)
        w.u8(len(self.stages))
        for stage in self.stages:
            w.u8(int(stage))
        w.u8(len(self.stage_deadlines))
        for stage, deadline in self.stage_deadlines:
            w.u8(int(stage)).u64(deadline)
        w.raw(self.roster_hash, HASH_LEN).blob(self.signed_round_key)
        return w.raw(self.server_key_id, KEY_ID_LEN).u64(self.created_at).finish()

    def signed(self, signer: Signer) -> RoundConfig:
        """Return a copy signed by ``signer`` (the server identity)."""
        return replace(self, signature=_sign(KIND_ROUND_CONFIG, self.body(), signer))

    def verify(self, server: Verifier) -> None:
        """Raises InvalidSignature unless the server signed exactly this config."""
        _verify(KIND_ROUND_CONFIG, self.body(), self.server_key_id, self.signature, server)

    def encode(self) -> bytes:
        """Full wire encoding, signature included."""
        return self.body() + blob_bytes(self.signature)

    @property
    def config_hash(self) -> bytes:
        """SHA-256 of the canonical signed encoding."""
        return sha256(self.encode())

    def deadline(self, stage: Stage) -> int | None:
        """Unix time by which ``stage`` must end, if the config sets one."""
        return next((t for s, t in self.stage_deadlines if s == stage), None)

    @classmethod
    def decode(cls, data: bytes) -> RoundConfig:
        """Parse a config. Raises MessageFormatError (or StageError) if malformed."""
        r = Reader(data, KIND_ROUND_CONFIG)
        round_id, min_clients = r.u64(), r.u32()
        stages = tuple(Stage.from_code(r.u8()) for _ in range(r.u8()))
        deadlines = tuple((Stage.from_code(r.u8()), r.u64()) for _ in range(r.u8()))
        cfg = cls(
            round_id,
            min_clients,
            stages,
            deadlines,
            r.raw(HASH_LEN),
            r.blob(),
            r.raw(KEY_ID_LEN),
            r.u64(),
            r.blob(),
        )
        r.done()
        return cfg


@dataclass(frozen=True)
class Submission:
    """A client's sealed envelope on the wire (the envelope is self-describing)."""

    envelope: bytes

    def encode(self) -> bytes:
        """Wire encoding."""
        return Writer(KIND_SUBMISSION).blob(self.envelope).finish()

    @classmethod
    def decode(cls, data: bytes) -> Submission:
        """Parse a submission. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_SUBMISSION)
        msg = cls(r.blob())
        r.done()
        return msg


@dataclass(frozen=True)
class Receipt:
    """The server's signed acknowledgement: the envelope is durably stored."""

    round_id: int
    config_hash: bytes
    sender_key_id: bytes
    envelope_hash: bytes  # SHA-256 of the exact envelope bytes
    sequence: int  # 1-based order of acceptance within the round
    server_key_id: bytes
    signature: bytes = b""

    def body(self) -> bytes:
        """Canonical encoding of every field but the signature."""
        return (
            Writer(KIND_RECEIPT)
            .u64(self.round_id)
            .raw(self.config_hash, HASH_LEN)
            .raw(self.sender_key_id, KEY_ID_LEN)
            .raw(self.envelope_hash, HASH_LEN)
            .u32(self.sequence)
            .raw(self.server_key_id, KEY_ID_LEN)
            .finish()
        )

    def signed(self, signer: Signer) -> Receipt:
        """Return a copy signed by ``signer``."""
        return replace(self, signature=_sign(KIND_RECEIPT, self.body(), signer))

    def verify(self, server: Verifier) -> None:
        """Raises InvalidSignature unless the server signed exactly this receipt."""
        _verify(KIND_RECEIPT, self.body(), self.server_key_id, self.signature, server)

    def encode(self) -> bytes:
        """Full wire encoding, signature included."""
        return self.body() + blob_bytes(self.signature)

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        """Parse a receipt. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_RECEIPT)
        msg = cls(
            r.u64(),
            r.raw(HASH_LEN),
            r.raw(KEY_ID_LEN),
            r.raw(HASH_LEN),
            r.u32(),
            r.raw(KEY_ID_LEN),
            r.blob(),
        )
        r.done()
        return msg


@dataclass(frozen=True)
class Abort:
    """The server's signed statement that a round ended without a result."""

    round_id: int
    config_hash: bytes
    reason: str
    server_key_id: bytes
    signature: bytes = b""

    def body(self) -> bytes:
        """Canonical encoding of every field but the signature."""
        reason = self.reason.encode("utf-8")
        if len(reason) > MAX_REASON_BYTES:
            raise MessageFormatError("abort reason is too long")
        return (
            Writer(KIND_ABORT)
            .u64(self.round_id)
            .raw(self.config_hash, HASH_LEN)
            .blob(reason)
            .raw(self.server_key_id, KEY_ID_LEN)
            .finish()
        )

    def signed(self, signer: Signer) -> Abort:
        """Return a copy signed by ``signer``."""
        return replace(self, signature=_sign(KIND_ABORT, self.body(), signer))

    def verify(self, server: Verifier) -> None:
        """Raises InvalidSignature unless the server signed exactly this abort."""
        _verify(KIND_ABORT, self.body(), self.server_key_id, self.signature, server)

    def encode(self) -> bytes:
        """Full wire encoding, signature included."""
        return self.body() + blob_bytes(self.signature)

    @classmethod
    def decode(cls, data: bytes) -> Abort:
        """Parse an abort. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_ABORT)
        round_id, config_hash, raw_reason = r.u64(), r.raw(HASH_LEN), r.blob()
        try:
            reason = raw_reason.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageFormatError("abort reason is not UTF-8") from None
        msg = cls(round_id, config_hash, reason, r.raw(KEY_ID_LEN), r.blob())
        r.done()
        return msg


@dataclass(frozen=True)
class GlobalResult:
    """The server-signed aggregate of one round (e.g. the global compendium)."""

    round_id: int
    config_hash: bytes
    contributors: int  # how many authenticated submissions went into it
    payload: bytes
    server_key_id: bytes
    signature: bytes = b""

    def body(self) -> bytes:
        """Canonical encoding of every field but the signature."""
        return (
            Writer(KIND_GLOBAL_RESULT)
            .u64(self.round_id)
            .raw(self.config_hash, HASH_LEN)
            .u32(self.contributors)
            .blob(self.payload)
            .raw(self.server_key_id, KEY_ID_LEN)
            .finish()
        )

    def signed(self, signer: Signer) -> GlobalResult:
        """Return a copy signed by ``signer``."""
        return replace(self, signature=_sign(KIND_GLOBAL_RESULT, self.body(), signer))

    def verify(self, server: Verifier) -> None:
        """Raises InvalidSignature unless the server signed exactly this result."""
        _verify(KIND_GLOBAL_RESULT, self.body(), self.server_key_id, self.signature, server)

    def encode(self) -> bytes:
        """Full wire encoding, signature included."""
        return self.body() + blob_bytes(self.signature)

    @classmethod
    def decode(cls, data: bytes) -> GlobalResult:
        """Parse a global result. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_GLOBAL_RESULT)
        msg = cls(r.u64(), r.raw(HASH_LEN), r.u32(), r.blob(), r.raw(KEY_ID_LEN), r.blob())
        r.done()
        return msg
