"""The server's state machine: open a round, receive sealed submissions, aggregate.

One method per stage (``open_round`` -> ``receive``* -> ``close_round`` ->
``publish``; ``abort`` from any live stage). ``receive`` authenticates before
it decrypts anything, in a fixed order (see :meth:`Server.receive`), and
returns a signed receipt only after the submission's transaction commits.
Restart recovery (resume or abort) lives in :mod:`fical_secure.protocol.recovery`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from os import PathLike
from typing import TYPE_CHECKING

from fical_secure.crypto.envelope import open_envelope, read_header
from fical_secure.crypto.keys import IdentityKey, Roster, RoundKey, SignedRoundKey
from fical_secure.errors import (
    ConflictError,
    CryptoError,
    MessageFormatError,
    ProtocolError,
    ReplayError,
    RoundAbortedError,
    StageError,
    StoreError,
    WrongRoundError,
)
from fical_secure.protocol.crashpoints import crash_point
from fical_secure.protocol.intake import LiveRound, ServerState, authenticate, route
from fical_secure.protocol.messages import Abort, GlobalResult, Receipt, RoundConfig, sha256
from fical_secure.protocol.recovery import RecoveryPolicy, decide
from fical_secure.protocol.roundkeys import RoundKeyVault
from fical_secure.protocol.stages import TERMINAL, Stage, check_transition, require_stage
from fical_secure.protocol.store import RoundRecord, Store

if TYPE_CHECKING:
    from fical_secure.crypto.keys import IdentityPublicKey

MAX_REASON_CHARS = 256
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024  # a compendium is tens of KiB
ROUND_PLAN = (Stage.OPEN, Stage.COLLECTING, Stage.AGGREGATING, Stage.DONE)


class Server:
    """A federation server bound to one identity key and one durable store."""

    def __init__(
        self,
        store: Store,
        vault: RoundKeyVault,
        identity: IdentityKey,
        roster: Roster,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._vault = vault
        self._identity = identity
        self._roster = roster
        self._clock = clock
        self.state = ServerState()

    @classmethod
    def create(
        cls,
        store_path: str | PathLike[str],
        identity: IdentityKey,
        roster: Roster,
        *,
        recovery: RecoveryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Server:
        """Open the store, check the roster is ours, and recover any live round.

        ``recovery`` decides what happens to a round that was live when the
        server stopped (default: resume unless its stage deadline has passed).

        Raises:
            InvalidSignature: if the roster is not signed by ``identity``.
            StoreError: if the store cannot be opened or belongs to another server.
        """
        roster.verify(identity.public)
        store = Store.open(store_path)
        store.bind_server(identity.key_id)
        server = cls(store, RoundKeyVault.beside(store.path), identity, roster, clock)
        server._recover(recovery or RecoveryPolicy.default())
        return server

    def _recover(self, policy: RecoveryPolicy) -> None:
        """Resume or cleanly abort every round the store still has live."""
        for rec in self._store.active_rounds():
            try:
                live = self._load(rec)
            except (CryptoError, ProtocolError, StoreError) as exc:
                self._abort_record(rec, f"cannot resume after restart: {type(exc).__name__}")
                continue
            self.state.round = live
            verdict = decide(live.stage, live.config, policy, self._clock())
            if not verdict.resume:
                self.abort(verdict.reason)
        current = self.state.round
        keep = {current.round_key.key_id} if current and current.stage not in TERMINAL else set()
        self._vault.prune(keep)  # keys of finished rounds and of crashed openings

    def _load(self, rec: RoundRecord) -> LiveRound:
        """Rebuild a live round from the store, re-checking what we signed.

        Raises:
            InvalidSignature, MessageFormatError, KeyMisuseError: tampered rows.
        """
        config = RoundConfig.decode(rec.config)
        config.verify(self._identity.public)
        roster = Roster.decode(rec.roster)
        roster.verify(self._identity.public)
        if sha256(rec.roster) != config.roster_hash or config.config_hash != rec.config_hash:
            raise StoreError("stored round does not match its signed config")
        round_key = self._vault.get(rec.round_key_id)
        if SignedRoundKey.decode(config.signed_round_key).public != round_key.public_bytes():
            raise StoreError("stored round key does not match the signed round key")
        return LiveRound(config, round_key, roster, rec.stage)

    def _abort_record(self, rec: RoundRecord, reason: str) -> Abort:
        """Sign and persist an Abort for a persisted round (live or not loadable)."""
        msg = Abort(
            rec.round_id, rec.config_hash, reason[:MAX_REASON_CHARS], self._identity.key_id
        ).signed(self._identity)
        self._store.transition(rec.round_id, Stage.ABORTED, msg.encode())
        self._vault.discard(rec.round_key_id)
        return msg

    @property
    def public(self) -> IdentityPublicKey:
        """The server's public identity key (what clients pin)."""
        return self._identity.public

    def close(self) -> None:
        """Close the store. Nothing is lost by not calling it (every write committed)."""
        self._store.close()

    @property
    def store(self) -> Store:
        """The durable store (read access for operators and tests)."""
        return self._store

    # --- stage: OPEN -> COLLECTING -------------------------------------------
    def open_round(
        self,
        round_id: int,
        min_clients: int,
        *,
        collect_seconds: int = 3600,
        aggregate_seconds: int = 3600,
    ) -> RoundConfig:
        """Create, persist and publish a round; it starts COLLECTING.

        Raises:
            StageError: if a round is still live or ``round_id`` does not increase.
            ProtocolError: if ``min_clients`` is not in 1..roster size.
        """
        live = self.state.round
        if live is not None and live.stage not in TERMINAL:
            raise StageError(f"round {live.round_id} is still {live.stage.name}")
        enrolled = len(self._roster.clients)
        if not 1 <= min_clients <= enrolled:
            raise ProtocolError(f"min_clients must be 1..{enrolled} (the roster size)")
        now = int(self._clock())
        round_key = RoundKey.generate()
        signed_key = SignedRoundKey.create(self._identity, round_key, round_id)
        roster_bytes = self._roster.encode()
        config = RoundConfig(
            round_id=round_id,
            min_clients=min_clients,
            stages=ROUND_PLAN,
            stage_deadlines=(
                (Stage.COLLECTING, now + collect_seconds),
                (Stage.AGGREGATING, now + collect_seconds + aggregate_seconds),
            ),
            roster_hash=sha256(roster_bytes),
            signed_round_key=signed_key.encode(),
            server_key_id=self._identity.key_id,
            created_at=now,
        ).signed(self._identity)
        key_id = self._vault.put(round_key)  # fsynced before the row that names it
        try:
            self._store.insert_round(
                RoundRecord(
                    round_id,
                    Stage.OPEN,
                    config.encode(),
                    config.config_hash,
                    key_id,
                    roster_bytes,
                    now,
                    None,
                )
            )
        except BaseException:
            self._vault.discard(key_id)
            raise
        self.state.round = LiveRound(config, round_key, self._roster, Stage.OPEN)
        self._advance(Stage.COLLECTING)
        return config

    # --- stage: COLLECTING ---------------------------------------------------
    def receive(self, envelope: bytes) -> Receipt:
        """Authenticate, de-duplicate and durably store one sealed submission.

        Order (nothing is decrypted before step 8): 1 parse the header
        (unauthenticated); 2 round id; 3 stage and deadline; 4 sender on the
        signed roster; 5 recipient key id and config hash; 6 signature;
        7 replay (same bytes: same receipt) / conflict; 8 decrypt; 9 persist;
        10 return the receipt that was signed inside the committed transaction.

        Raises:
            MessageFormatError: the envelope is larger than ``MAX_ENVELOPE_BYTES``.
            InvalidEnvelope: malformed header, wrong recipient key, bad
                signature, or a ciphertext that does not open.
            WrongRoundError: the envelope is for another round or config.
            ReplayError: the exact envelope was accepted in an earlier round.
            StageError: the round is not collecting (or its deadline passed).
            NotEnrolledError: the sender is not on this round's roster.
            ConflictError: the sender already submitted different content.
            StoreError: the write failed; nothing was acknowledged.
        """
        if len(envelope) > MAX_ENVELOPE_BYTES:
            raise MessageFormatError(f"envelope exceeds {MAX_ENVELOPE_BYTES} bytes")
        header = read_header(envelope)
        crash_point("after_receive")
        digest = sha256(envelope)
        live = route(self.state.round, header, self._clock())
        if live is None:  # not this round's: say "replay" only if we accepted these bytes
            seen_in = self._store.round_of_envelope(digest)
            if seen_in is not None:
                raise ReplayError(f"this envelope was already accepted in round {seen_in}")
            raise WrongRoundError(f"envelope is for round {header.round_id}, not the current one")
        sender_public = authenticate(live, header, envelope)
        prior = self._store.find_submission(live.round_id, header.sender_key_id)
        if prior is not None:
            if prior.envelope_hash == digest:
                return Receipt.decode(prior.receipt)  # identical resubmission, counted once
            raise ConflictError("this client already submitted different content this round")
        # Opening proves the ciphertext is sound before we acknowledge it; the
        # plaintext is dropped here and recovered from the sealed copy at close.
        open_envelope(
            envelope, recipient=live.round_key, sender_public=sender_public, context=live.context
        )
        crash_point("after_verify")
        receipt = self._store.add_submission(
            live.round_id,
            header.sender_key_id,
            envelope,
            digest,
            lambda seq: self._receipt(live, header.sender_key_id, digest, seq).encode(),
        )
        crash_point("after_commit")
        return Receipt.decode(receipt)

    def _receipt(self, live: LiveRound, sender: bytes, digest: bytes, seq: int) -> Receipt:
        return Receipt(
            live.round_id, live.config.config_hash, sender, digest, seq, self._identity.key_id
        ).signed(self._identity)

    # --- stage: COLLECTING -> AGGREGATING ------------------------------------
    def close_round(self) -> list[tuple[bytes, bytes]]:
        """Freeze submissions and return ``(sender_key_id, plaintext)`` in receipt order.

        Re-opens each stored envelope (the store keeps only ciphertext). Callable
        again in AGGREGATING, e.g. after a restart, with the same result.

        Raises:
            StageError: if the round is neither COLLECTING nor AGGREGATING.
            RoundAbortedError: too few clients submitted; the round is aborted.
            StoreError: a stored envelope no longer opens; the round is aborted.
        """
        live = self._live(Stage.COLLECTING, Stage.AGGREGATING)
        records = self._store.submissions(live.round_id)
        if live.stage is Stage.COLLECTING:
            if len(records) < live.config.min_clients:
                self.abort(f"only {len(records)} of {live.config.min_clients} clients submitted")
                raise RoundAbortedError(f"round {live.round_id} aborted: too few clients")
            self._advance(Stage.AGGREGATING)
        payloads: list[tuple[bytes, bytes]] = []
        for rec in records:
            payloads.append(
                (rec.sender_key_id, self._reopen(live, rec.sender_key_id, rec.envelope))
            )
            crash_point("during_aggregation")
        return payloads

    def _reopen(self, live: LiveRound, sender_key_id: bytes, envelope: bytes) -> bytes:
        try:
            return open_envelope(
                envelope,
                recipient=live.round_key,
                context=live.context,
                sender_public=live.roster.lookup(sender_key_id),
            )
        except (CryptoError, ProtocolError) as exc:
            self.abort("a stored envelope no longer opens (the store was tampered with)")
            raise StoreError("a stored envelope failed to open; the round is aborted") from exc

    # --- stage: AGGREGATING -> DONE ------------------------------------------
    def publish(self, result: bytes) -> GlobalResult:
        """Sign the aggregate, persist it and end the round (DONE).

        Raises:
            StageError: unless the round is AGGREGATING.
        """
        live = self._live(Stage.AGGREGATING)
        count = len(self._store.submissions(live.round_id))
        signed = GlobalResult(
            live.round_id, live.config.config_hash, count, result, self._identity.key_id
        ).signed(self._identity)
        crash_point("before_publish")
        self._advance(Stage.DONE, signed.encode())
        return signed

    def publish_secure_aggregate(self, result: bytes, contributors: int) -> GlobalResult:
        """Sign an aggregate that secure aggregation computed outside the store; end the round.

        In secure-aggregation mode no envelope is stored (the server never holds
        one client's compendium), so ``contributors`` is the number of clients
        whose masked inputs the sum holds, as the unmasking stage counted them.

        Raises:
            StageError: unless the round is COLLECTING with nothing submitted.
            ProtocolError: ``contributors`` is below the round's ``min_clients``.
        """
        live = self._live(Stage.COLLECTING)
        if self._store.submissions(live.round_id):
            raise StageError("this round collected sealed envelopes: publish it with publish()")
        if contributors < live.config.min_clients:
            raise ProtocolError(
                f"{contributors} contributors are below the round's min_clients"
                f" {live.config.min_clients}"
            )
        self._advance(Stage.AGGREGATING)
        signed = GlobalResult(
            live.round_id, live.config.config_hash, contributors, result, self._identity.key_id
        ).signed(self._identity)
        crash_point("before_publish")
        self._advance(Stage.DONE, signed.encode())
        return signed

    # --- any live stage -> ABORTED -------------------------------------------
    def abort(self, reason: str) -> Abort:
        """End the live round without a result; the signed Abort is persisted.

        Raises:
            StageError: if there is no live round.
        """
        live = self._live(Stage.OPEN, Stage.COLLECTING, Stage.AGGREGATING)
        msg = Abort(
            live.round_id, live.config.config_hash, reason[:MAX_REASON_CHARS], self._identity.key_id
        ).signed(self._identity)
        self._advance(Stage.ABORTED, msg.encode())
        return msg

    def outcome(self, round_id: int) -> GlobalResult | Abort | None:
        """The persisted result or abort of a finished round, if any."""
        rec = self._store.get_round(round_id)
        if rec is None or rec.outcome is None:
            return None
        if rec.stage is Stage.DONE:
            return GlobalResult.decode(rec.outcome)
        return Abort.decode(rec.outcome)

    # --- helpers ---------------------------------------------------------------
    def _live(self, *allowed: Stage) -> LiveRound:
        """The current round, if it is in one of ``allowed`` stages.

        Raises:
            StageError: if there is no round or it is in another stage.
        """
        live = self.state.round
        if live is None:
            raise StageError("no round has been opened")
        require_stage(live.stage, *allowed)
        return live

    def _advance(self, target: Stage, outcome: bytes | None = None) -> None:
        """Persist a transition first, then mirror it in memory."""
        live = self._live(*Stage)
        check_transition(live.stage, target)
        self._store.transition(live.round_id, target, outcome)
        live.stage = target
        if target in TERMINAL:
            self._vault.discard(live.round_key.key_id)  # forward secrecy at rest
