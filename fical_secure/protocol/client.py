"""The client's state machine: check the round, seal once, check the receipt.

One method per stage (``accept_round`` -> ``seal_submission`` ->
``check_receipt`` -> ``check_result`` / ``check_abort``). The client pins the
server's public identity key out of band and trusts nothing else: the round
config, the round key, the roster, receipts and results must all verify under
it before the client acts on them. Every failure raises; nothing returns False.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fical_secure.crypto.envelope import EnvelopeContext, seal
from fical_secure.crypto.keys import IdentityKey, IdentityPublicKey, Roster, SignedRoundKey
from fical_secure.errors import InvalidSignature, ProtocolError, StageError, WrongRoundError
from fical_secure.protocol.messages import Abort, GlobalResult, Receipt, RoundConfig, sha256
from fical_secure.protocol.stages import SUBMISSION_STAGE, Stage


@dataclass
class ClientState:
    """What one client remembers about the round it takes part in."""

    config: RoundConfig | None = None
    round_key: SignedRoundKey | None = field(default=None, repr=False)
    envelope: bytes | None = field(default=None, repr=False)
    payload_hash: bytes | None = field(default=None, repr=False)
    receipt: Receipt | None = None

    @property
    def envelope_hash(self) -> bytes | None:
        """SHA-256 of the envelope this client sealed (what its receipt must name)."""
        return None if self.envelope is None else sha256(self.envelope)


class Client:
    """An enrolled client holding its identity key and the pinned server key."""

    def __init__(self, identity: IdentityKey, server_public: IdentityPublicKey, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._identity = identity
        self._server = server_public
        self._clock = clock
        self.state = ClientState()

    @property
    def key_id(self) -> bytes:
        """This client's key id (what the server's roster and receipts name)."""
        return self._identity.key_id

    # --- stage: accept the round ---------------------------------------------
    def accept_round(self, config: RoundConfig, roster: Roster | None = None) -> SignedRoundKey:
        """Verify a round config (and optionally the roster) before taking part.

        Raises:
            InvalidSignature: config, round key or roster not signed by the server.
            WrongRoundError: the round key is bound to another round.
            StageError: the round does not collect submissions or its deadline passed.
            ProtocolError: the roster does not match the config's roster hash.
            NotEnrolledError: this client is not on the roster.
        """
        config.verify(self._server)
        round_key = SignedRoundKey.decode(config.signed_round_key)
        round_key.verify(self._server)
        if round_key.round_id != config.round_id:
            raise WrongRoundError("the round key is signed for another round")
        if round_key.server_key_id != self._server.key_id:
            raise InvalidSignature("the round key names another server")
        if SUBMISSION_STAGE not in config.stages or config.min_clients < 1:
            raise StageError("this round config takes no submissions")
        deadline = config.deadline(Stage.COLLECTING)
        if deadline is not None and self._clock() > deadline:
            raise StageError(f"round {config.round_id} stopped collecting at {deadline}")
        if roster is not None:
            roster.verify(self._server)
            if sha256(roster.encode()) != config.roster_hash:
                raise ProtocolError("the roster is not the one this round was configured with")
            roster.lookup(self.key_id)
        if self.state.config != config:  # a new round: forget the previous one
            self.state = ClientState(config=config, round_key=round_key)
        return round_key

    # --- stage: seal -----------------------------------------------------------
    def seal_submission(self, config: RoundConfig, payload: bytes,
                        roster: Roster | None = None) -> bytes:
        """Verify the round, then seal ``payload`` to its round key; returns envelope bytes.

        Sealing is bound (AEAD associated data) to the round id, the
        COLLECTING stage and the config hash. Calling this again with the same
        config and payload returns the same envelope bytes, so a retry after a
        lost receipt is a replay the server answers with the same receipt; a
        different payload in the same round is refused by the server (conflict).

        Raises:
            everything :meth:`accept_round` raises.
        """
        round_key = self.accept_round(config, roster)
        if self.state.envelope is not None and self.state.payload_hash == sha256(payload):
            return self.state.envelope
        context = EnvelopeContext(round_id=config.round_id, stage=int(SUBMISSION_STAGE),
                                  config_hash=config.config_hash)
        envelope = seal(payload, sender=self._identity, recipient_public=round_key.public,
                        recipient_key_id=round_key.key_id, context=context)
        self.state.envelope, self.state.payload_hash = envelope, sha256(payload)
        return envelope

    # --- stage: receipt --------------------------------------------------------
    def check_receipt(self, receipt: Receipt) -> None:
        """Verify the server acknowledged exactly the envelope this client sent.

        Raises:
            InvalidSignature: not signed by the pinned server key.
            StageError: nothing was sealed yet.
            ProtocolError: the receipt is for another round, config, sender or envelope.
        """
        cfg, sent = self.state.config, self.state.envelope_hash
        if cfg is None or sent is None:
            raise StageError("no submission was sealed; nothing to acknowledge")
        receipt.verify(self._server)
        if receipt.round_id != cfg.round_id or receipt.config_hash != cfg.config_hash:
            raise WrongRoundError("the receipt is for another round")
        if receipt.sender_key_id != self.key_id or receipt.envelope_hash != sent:
            raise ProtocolError("the receipt acknowledges another submission")
        if receipt.sequence < 1:
            raise ProtocolError("the receipt carries no sequence number")
        self.state.receipt = receipt

    # --- stage: outcome --------------------------------------------------------
    def check_result(self, result: GlobalResult) -> bytes:
        """Verify a published global result for this round; returns its payload.

        Raises:
            InvalidSignature, WrongRoundError: as for receipts.
        """
        result.verify(self._server)
        self._check_round(result.round_id, result.config_hash)
        return result.payload

    def check_abort(self, abort: Abort) -> str:
        """Verify a signed abort for this round; returns its reason.

        Raises:
            InvalidSignature, WrongRoundError: as for receipts.
        """
        abort.verify(self._server)
        self._check_round(abort.round_id, abort.config_hash)
        return abort.reason

    def _check_round(self, round_id: int, config_hash: bytes) -> None:
        cfg = self.state.config
        if cfg is None or round_id != cfg.round_id or config_hash != cfg.config_hash:
            raise WrongRoundError("the message is for a round this client did not accept")
