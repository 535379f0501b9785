"""Pre-decryption checks of an incoming envelope, and the server's live-round state.

Everything here runs on the unauthenticated header first and the signature
last, before a single byte is decrypted: a cheap, fixed order that refuses
misrouted, stale, unenrolled and forged envelopes without touching the AEAD.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fical_secure.crypto.envelope import EnvelopeContext, EnvelopeHeader, verify_envelope
from fical_secure.crypto.keys import IdentityPublicKey, Roster, RoundKey
from fical_secure.errors import InvalidEnvelope, StageError, WrongRoundError
from fical_secure.protocol.messages import RoundConfig
from fical_secure.protocol.stages import SUBMISSION_STAGE, Stage, require_stage


@dataclass
class LiveRound:
    """The round the server is running (mirrors the store; stage changes)."""

    config: RoundConfig
    round_key: RoundKey = field(repr=False)
    roster: Roster = field(repr=False)
    stage: Stage

    @property
    def round_id(self) -> int:
        """The round's id."""
        return self.config.round_id

    @property
    def context(self) -> EnvelopeContext:
        """The AEAD context every submission of this round is sealed under."""
        return EnvelopeContext(
            round_id=self.round_id, stage=int(SUBMISSION_STAGE), config_hash=self.config.config_hash
        )


@dataclass
class ServerState:
    """What the server holds in memory: the latest round, live or finished."""

    round: LiveRound | None = None


def route(live: LiveRound | None, header: EnvelopeHeader, now: float) -> LiveRound | None:
    """Steps 2-3 of receive: round id, then stage and deadline (unauthenticated).

    Returns None when the envelope names another round (the caller tells a
    replay of an earlier round from a merely wrong round).

    Raises:
        StageError: the round is not collecting, the envelope was sealed for
            another stage, or the collection deadline has passed.
    """
    if live is None or header.round_id != live.round_id:
        return None
    require_stage(live.stage, SUBMISSION_STAGE)
    if header.stage != int(SUBMISSION_STAGE):
        raise StageError(
            f"envelope was sealed for stage code {header.stage}; "
            f"submissions are sealed for {SUBMISSION_STAGE.name}"
        )
    deadline = live.config.deadline(Stage.COLLECTING)
    if deadline is not None and now > deadline:
        raise StageError(f"round {live.round_id} stopped collecting at {deadline}")
    return live


def authenticate(live: LiveRound, header: EnvelopeHeader, envelope: bytes) -> IdentityPublicKey:
    """Steps 4-6 of receive: enrolment, recipient key, config hash, then the signature.

    Raises:
        NotEnrolledError: the sender key id is not on the round's signed roster.
        InvalidEnvelope: another recipient key, or the signature does not verify.
        WrongRoundError: sealed under another round config.
    """
    sender_public = live.roster.lookup(header.sender_key_id)
    if header.recipient_key_id != live.round_key.key_id:
        raise InvalidEnvelope("envelope is not addressed to this round's key")
    if header.config_hash != live.config.config_hash:
        raise WrongRoundError("envelope was sealed under another round config")
    verify_envelope(envelope, sender_public)
    return sender_public
