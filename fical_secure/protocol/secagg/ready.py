"""The ready statement: all a hospital says about itself before the secure sum.

Answering a round's prepare request, a hospital signs with its identity key
one statement over the round config hash: its key id and ``ready`` or
``blocked``, nothing else (no gate figures, entry ids or counts: those stay
in its local ``client_report.json``). The server routes a key id to the node
whose reply proves that key signed for this exact round, so a node cannot
claim another hospital's key id (ready squatting). The Flower apps and the
in-process round build and check it here, with one label
(:data:`~fical_secure.crypto.labels.SECAGG_READY_SIGNATURE`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from fical_secure.crypto import labels
from fical_secure.crypto.enrollment import Roster
from fical_secure.errors import MessageFormatError, WrongRoundError
from fical_secure.protocol.codec import Reader, Writer, blob_bytes
from fical_secure.protocol.messages import HASH_LEN, KEY_ID_LEN, Signer, sha256

KIND_READY: Final = 40
READY: Final = 1
BLOCKED: Final = 2
STATUS_NAMES: Final = {READY: "ready", BLOCKED: "blocked"}


@dataclass(frozen=True)
class ReadyStatement:
    """``signer_id`` is ``ready`` or ``blocked`` for the round of ``config_hash``; signed."""

    round_id: int
    config_hash: bytes
    signer_id: bytes
    status: int
    sig: bytes = b""

    def body(self) -> bytes:
        """Canonical encoding of every field but the signature."""
        w = Writer(KIND_READY).u64(self.round_id).raw(self.config_hash, HASH_LEN)
        return w.raw(self.signer_id, KEY_ID_LEN).u8(self.status).finish()

    def encode(self) -> bytes:
        """Full wire encoding, signature included."""
        return self.body() + blob_bytes(self.sig)

    @property
    def name(self) -> str:
        """``ready`` or ``blocked``."""
        return STATUS_NAMES[self.status]

    @classmethod
    def decode(cls, data: bytes) -> ReadyStatement:
        """Parse. Raises MessageFormatError if malformed."""
        r = Reader(data, KIND_READY)
        out = cls(r.u64(), r.raw(HASH_LEN), r.raw(KEY_ID_LEN), r.u8(), r.blob())
        r.done()
        if out.status not in STATUS_NAMES or len(out.sig) != 64:
            raise MessageFormatError("a ready statement needs a known status and a signature")
        return out


def _signed_data(body: bytes) -> bytes:
    return labels.SECAGG_READY_SIGNATURE + sha256(body)


def sign_ready(identity: Signer, round_id: int, config_hash: bytes, *, ready: bool) -> bytes:
    """The encoded statement of ``identity`` for the round of ``config_hash``."""
    statement = ReadyStatement(round_id, config_hash, identity.key_id, READY if ready else BLOCKED)
    return replace(statement, sig=identity.sign(_signed_data(statement.body()))).encode()


def verify_ready(blob: bytes, roster: Roster, round_id: int, config_hash: bytes) -> ReadyStatement:
    """The statement, once its enrolled signer is shown to have signed it for this round.

    Raises:
        MessageFormatError: malformed.
        WrongRoundError: signed for another round or config (a replay).
        NotEnrolledError: the signer is not on the roster.
        InvalidSignature: the enrolled key did not sign it.
    """
    statement = ReadyStatement.decode(blob)
    if (statement.round_id, statement.config_hash) != (round_id, config_hash):
        raise WrongRoundError("a ready statement of another round or config: a replay")
    roster.lookup(statement.signer_id).verify(statement.sig, _signed_data(statement.body()))
    return statement
