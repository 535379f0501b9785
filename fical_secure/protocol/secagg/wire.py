"""Wire basics of the secure-aggregation messages: kinds, labels, the signed base class.

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


def ids(w: Writer, values: tuple[bytes, ...]) -> None:
    """Append a counted list of 16-byte key ids."""
    w.u32(len(values))
    for key_id in values:
        w.raw(key_id, KEY_ID_LEN)


def read_ids(r: Reader) -> tuple[bytes, ...]:
    """Read a counted list of 16-byte key ids."""
    return tuple(r.raw(KEY_ID_LEN) for _ in range(r.u32()))


def blobs(w: Writer, items: tuple[bytes, ...]) -> None:
    """Append a counted list of length-prefixed byte strings."""
    w.u32(len(items))
    for item in items:
        w.blob(item)


def read_blobs(r: Reader) -> tuple[bytes, ...]:
    """Read a counted list of length-prefixed byte strings."""
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


def head(r: Reader) -> tuple[int, bytes, bytes]:
    """Read the common fields: round id, config hash, signer key id."""
    return r.u64(), r.raw(HASH_LEN), r.raw(KEY_ID_LEN)


def finish(r: Reader) -> bytes:
    """Read the signature and check the whole message was consumed."""
    sig = r.blob()
    r.done()
    if len(sig) != _SIG_LEN:
        raise MessageFormatError("signature must be 64 bytes")
    return sig
