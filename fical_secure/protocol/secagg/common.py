"""What the secure-aggregation client and server must compute identically.

Stage codes (also the ``stage`` byte of the share envelopes, so a share
envelope can never be accepted as a sealed-round submission: those use 1..5),
the contexts that bind each share commitment to its round, dealer, holder and
secret, and the sign convention of pairwise masks.
"""

from __future__ import annotations

import enum
from typing import Final

from fical_secure.crypto.envelope import EnvelopeContext
from fical_secure.errors import StageError

SECRET_SIZE: Final = 32


class SecAggStage(enum.IntEnum):
    """The five stages, in order; wire codes (never renumber)."""

    ADVERTISE_KEYS = 16
    SHARE_KEYS = 17
    MASKED_INPUT = 18
    CONSISTENCY = 19
    UNMASK = 20


class Phase(enum.Enum):
    """Where a party's state machine stands: the stage it expects next, or terminal."""

    ADVERTISE_KEYS = "advertise_keys"
    SHARE_KEYS = "share_keys"
    MASKED_INPUT = "masked_input"
    CONSISTENCY = "consistency"
    UNMASK = "unmask"
    DONE = "done"
    ABORTED = "aborted"


ORDER: Final = (
    Phase.ADVERTISE_KEYS,
    Phase.SHARE_KEYS,
    Phase.MASKED_INPUT,
    Phase.CONSISTENCY,
    Phase.UNMASK,
    Phase.DONE,
)


def next_phase(current: Phase, expected: Phase) -> Phase:
    """The phase after ``expected``, if the machine stands at ``expected``.

    Raises:
        StageError: the machine is elsewhere (out of order, repeated, or terminal).
    """
    if current is not expected:
        raise StageError(
            f"secure aggregation is at {current.value}; a {expected.value} step is not allowed"
        )
    return ORDER[ORDER.index(expected) + 1]


def share_envelope_context(round_id: int, config_hash: bytes) -> EnvelopeContext:
    """The envelope context every share envelope of this round is sealed under."""
    return EnvelopeContext(round_id, int(SecAggStage.SHARE_KEYS), config_hash)


def share_context(config_hash: bytes, dealer: bytes, holder: bytes, secret: bytes) -> bytes:
    """Context of one share commitment: round config, dealer, holder, which secret."""
    return config_hash + dealer + holder + secret


SELF_SECRET: Final = b"self-mask-seed"
MASK_SECRET: Final = b"mask-key"


def seed_context(config_hash: bytes, dealer: bytes) -> bytes:
    """Context of the commitment to a dealer's self-mask seed."""
    return config_hash + dealer + SELF_SECRET


def adds_pairwise(i: int, j: int) -> bool:
    """Client ``i`` adds the (i, j) mask if ``i < j`` and subtracts it otherwise."""
    return i < j
