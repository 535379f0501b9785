"""The client's state machine: check the round, seal once, check the receipt.

One method per stage (``accept_round`` -> ``seal_submission`` ->
``check_receipt`` -> ``check_result`` / ``check_abort``). The client pins the
server's public identity key out of band and trusts nothing else: the round
config, the round key, the roster, receipts and results must all verify under
it before the client acts on them. Every failure raises; nothing returns False.

Round state is monotonic and durable (:mod:`fical_secure.protocol.client_state`):
a config of a lower round than one already accepted, or a second config for the
same round, is refused; results are accepted only for the current round; the
sealed envelope is persisted before it is returned, so a retry after a restart
sends the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fical_secure.crypto.envelope import EnvelopeContext, seal
from fical_secure.crypto.keys import IdentityKey, IdentityPublicKey, Roster, SignedRoundKey
from fical_secure.errors import (
    ConflictError,
    InvalidSignature,
    ProtocolError,
    RollbackError,
    StageError,
    StoreError,
    WrongRoundError,
)
from fical_secure.protocol.client_state import ClientStateFile, SavedRound
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

    def __init__(
        self,
        identity: IdentityKey,
        server_public: IdentityPublicKey,
        *,
        state_path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``state_path``: where the durable round state lives (beside the key).

        A deployed client always passes one; ``None`` keeps the state in memory
        (monotonic only for this object's lifetime).

        Raises:
            StoreError: the saved state is unreadable, for another server, or
                holds a config the pinned server key did not sign.
        """
        self._identity = identity
        self._server = server_public
        self._clock = clock
        self._saved = ClientStateFile(state_path, server_public.key_id)
        self.state = self._restore(self._saved.load())

    def _restore(self, saved: SavedRound | None) -> ClientState:
        """Rebuild the in-memory state from disk, re-verifying what the server signed."""
        if saved is None:
            return ClientState()
        try:
            config = RoundConfig.decode(saved.config)
            config.verify(self._server)
            round_key = SignedRoundKey.decode(config.signed_round_key)
            receipt = None if saved.receipt is None else Receipt.decode(saved.receipt)
        except (InvalidSignature, ProtocolError) as exc:
            raise StoreError(f"the saved client round state does not verify: {exc}") from exc
        if config.round_id != saved.round_id or config.config_hash != saved.config_hash:
            raise StoreError("the saved client round state does not match its config")
        return ClientState(config, round_key, saved.envelope, saved.payload_hash, receipt)

    def _persist(self) -> None:
        cfg = self.state.config
        if cfg is None:
            return
        receipt = None if self.state.receipt is None else self.state.receipt.encode()
        self._saved.save(
            SavedRound(
                cfg.round_id,
                cfg.encode(),
                cfg.config_hash,
                self.state.envelope,
                self.state.payload_hash,
                receipt,
            )
        )

    @property
    def key_id(self) -> bytes:
        """This client's key id (what the server's roster and receipts name)."""
        return self._identity.key_id

    # --- stage: accept the round ---------------------------------------------
    def accept_round(self, config: RoundConfig, roster: Roster | None = None) -> SignedRoundKey:
        """Verify a round config (and optionally the roster) before taking part.

        Raises:
            InvalidSignature: config, round key or roster not signed by the server.
            RollbackError: the config is for a lower round than one already accepted.
            ConflictError: a different config for the round already accepted.
            WrongRoundError: the round key is bound to another round.
            StageError: the round does not collect submissions or its deadline passed.
            ProtocolError: the roster does not match the config's roster hash.
            NotEnrolledError: this client is not on the roster.
        """
        config.verify(self._server)
        round_key = SignedRoundKey.decode(config.signed_round_key)
        round_key.verify(self._server)  # also refuses a round key naming another server
        if round_key.round_id != config.round_id:
            raise WrongRoundError("the round key is signed for another round")
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
        current = self.state.config
        if current is not None:
            if config.round_id < current.round_id:
                raise RollbackError(
                    f"round {config.round_id} is older than round {current.round_id}, "
                    "which this client already accepted: a replayed config is refused"
                )
            if config.round_id == current.round_id and config.config_hash != current.config_hash:
                raise ConflictError(
                    f"a second, different config for round {config.round_id} is refused; "
                    "the server must open a new round id"
                )
        if current is None or config.round_id > current.round_id:  # a new round
            self.state = ClientState(config=config, round_key=round_key)
            self._persist()  # durable before the client acts on the new round
        return round_key

    # --- stage: seal -----------------------------------------------------------
    def seal_submission(
        self, config: RoundConfig, payload: bytes, roster: Roster | None = None
    ) -> bytes:
        """Verify the round, then seal ``payload`` to its round key; returns envelope bytes.

        Sealing is bound (AEAD associated data) to the round id, the
        COLLECTING stage and the config hash. Calling this again with the same
        config and payload returns the same envelope bytes, so a retry after a
        lost receipt is a replay the server answers with the same receipt; a
        different payload in the same round is refused here (the server keeps
        the first, so it would be refused there too). The envelope is persisted
        before it is returned: after a restart the retry sends the same bytes.

        Raises:
            everything :meth:`accept_round` raises.
            ConflictError: a different payload was already sealed this round.
            StoreError: the envelope could not be persisted (nothing to send).
        """
        round_key = self.accept_round(config, roster)
        if self.state.envelope is not None:
            if self.state.payload_hash == sha256(payload):
                return self.state.envelope
            raise ConflictError(
                f"this client already sealed a different payload for round {config.round_id}; "
                "resend that envelope (Client.state.envelope) or wait for the next round"
            )
        context = EnvelopeContext(
            round_id=config.round_id, stage=int(SUBMISSION_STAGE), config_hash=config.config_hash
        )
        envelope = seal(
            payload,
            sender=self._identity,
            recipient_public=round_key.public,
            recipient_key_id=round_key.key_id,
            context=context,
        )
        self.state.envelope, self.state.payload_hash = envelope, sha256(payload)
        self._persist()
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
        self._persist()

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
