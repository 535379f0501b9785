"""The secure-aggregation server: one method per stage, replies in, next request out.

Each stage method takes the replies that arrived before the stage's deadline
(``timeout_s(stage)`` from the signed config tells the transport how long to
wait) and returns what to send next. A reply that is malformed, misrouted,
replayed, forged, repeated or out of stage is refused *per record*: it is
recorded in :attr:`SecAggServer.refused` with its typed error and its sender
counts as dropped; a stage with fewer than ``threshold`` usable replies aborts
the round (:class:`SecAggAbort`) before any share is revealed. The server
holds masked vectors and commitments, never an individual input.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.identity import IdentityKey, Unpicklable
from fical_secure.crypto.masking import MaskAccumulator
from fical_secure.errors import (
    FicalError,
    ReplayError,
    SecAggAbort,
    SecAggRefusal,
    StageError,
)
from fical_secure.protocol.messages import sha256
from fical_secure.protocol.secagg import common
from fical_secure.protocol.secagg.blame import sort_blames
from fical_secure.protocol.secagg.common import Phase
from fical_secure.protocol.secagg.messages import (
    KIND_DIRECTORY,
    KIND_SHARE_BUNDLE,
    KIND_UNMASK_REQUEST,
    ConsistencyAck,
    MaskedInput,
    Relay,
    SecAggConfig,
    ShareKeys,
    SurvivorList,
    UnmaskShares,
)
from fical_secure.protocol.secagg.params import SecAggParams
from fical_secure.protocol.secagg.peers import PeerKeys, config_params, read_advert
from fical_secure.protocol.secagg.unmasking import unmask_sum

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """One refused reply: the stage, the claimed sender (if parsable), the typed error."""

    stage: str
    sender: bytes | None
    error: FicalError


class SecAggServer(Unpicklable):
    """The server's side of one secure-aggregation round."""

    def __init__(
        self,
        identity: IdentityKey,
        roster: Roster,
        params: SecAggParams,
        round_id: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``params.participants`` must all be on ``roster``.

        Raises:
            NotEnrolledError: a participant is not enrolled.
        """
        for key_id in params.participants:
            roster.lookup(key_id)
        self._identity, self._roster, self.params = identity, roster, params
        self.round_id, self._clock = round_id, clock
        self.phase = Phase.ADVERTISE_KEYS
        self.refused: list[Refusal] = []
        self._peers: dict[int, PeerKeys] = {}
        self._shares: dict[int, ShareKeys] = {}
        self._masked: dict[int, None] = {}  # who sent a masked input (the sum is kept, not them)
        self._acks: dict[int, bytes] = {}
        self.survivors: tuple[bytes, ...] = ()

    def timeout_s(self, stage: int) -> int:
        """Seconds the transport waits for the replies of stage ``stage`` (0..4)."""
        return self.params.timeouts_s[stage]

    # --- stage 0: configuration ---------------------------------------------
    def configure(self) -> bytes:
        """The server-signed configuration every client checks first."""
        p = self.params
        cfg = SecAggConfig(
            self.round_id,
            bytes(32),
            self._identity.key_id,
            p.participants,
            p.threshold,
            p.k,
            p.bits,
            p.length,
            p.graph_seed,
            p.timeouts_s,
            int(self._clock()),
        )
        wire = cfg.signed_by(self._identity)
        self._config = SecAggConfig.decode(wire)
        self.config_hash = self._config.hash
        config_params(self._config, self._roster)
        return wire

    # --- stage 1 ------------------------------------------------------------
    def advertise_keys(self, replies: Sequence[bytes]) -> bytes:
        """Verify advertised keys; relay them all as the key directory."""
        self._enter(Phase.ADVERTISE_KEYS)
        adverts: dict[int, bytes] = {}
        seen: set[bytes] = set()
        for blob in replies:
            with self._record(blob):
                index, msg = read_advert(
                    blob, self.params, self._roster, self.round_id, self.config_hash
                )
                self._once(index, adverts)
                keys = {msg.encryption_public, msg.mask_public}
                if len(keys) != 2 or keys & seen:
                    raise SecAggRefusal("advertised public key already in use this round")
                seen |= keys
                adverts[index] = blob
                self._peers[index] = PeerKeys(msg.encryption_public, msg.mask_public)
        self._require(len(adverts), "advertised keys")
        return Relay(
            self.round_id,
            self.config_hash,
            KIND_DIRECTORY,
            tuple(adverts[i] for i in sorted(adverts)),
        ).encode()

    # --- stage 2 ------------------------------------------------------------
    def share_keys(self, replies: Sequence[bytes]) -> dict[bytes, bytes]:
        """Check each dealer's holder list; relay each dealer's signed shares to its holders."""
        self._enter(Phase.SHARE_KEYS)
        p = self.params
        signed: dict[int, bytes] = {}
        for blob in replies:
            with self._record(blob):
                msg = self._signed(ShareKeys.decode(blob), self._peers)
                j = p.index[msg.signer_id]
                expected = tuple(
                    p.participants[h] for h in sorted(p.closed(j) & self._peers.keys())
                )
                if msg.holders != expected:
                    raise SecAggRefusal("shares must go to exactly the advertised neighbourhood")
                pairs = zip(msg.holders, msg.envelopes, strict=True)
                if any(bool(e) == (h == msg.signer_id) for h, e in pairs):
                    raise SecAggRefusal("one sealed share per holder, none to the dealer itself")
                self._once(j, self._shares)
                self._shares[j], signed[j] = msg, blob
        self._require(len(self._shares), "shared their keys")
        bundles: dict[bytes, list[bytes]] = {p.participants[i]: [] for i in self._shares}
        for j, msg in sorted(self._shares.items()):  # the dealer-signed message: evidence
            for holder, envelope in zip(msg.holders, msg.envelopes, strict=True):
                if envelope and holder in bundles:
                    bundles[holder].append(signed[j])
        return {
            holder: Relay(self.round_id, self.config_hash, KIND_SHARE_BUNDLE, tuple(items)).encode()
            for holder, items in bundles.items()
        }

    # --- stage 3 ------------------------------------------------------------
    def masked_input(self, replies: Sequence[bytes]) -> bytes:
        """Keep masked vectors of clients who shared keys; sign the survivor list.

        A dealer that a holder blames (its shares for that holder did not open
        or verify) is dropped: its own vector stays out of the sum, the refusal
        names it, and its pairwise mask with that holder is never cancelled
        (the holder did not add it). See :mod:`.blame` for the bound on blames.
        """
        self._enter(Phase.MASKED_INPUT)
        accepted: dict[int, MaskedInput] = {}
        size = self.params.length * (4 if self.params.bits <= 32 else 8)
        for blob in replies:
            with self._record(blob):
                msg = self._signed(MaskedInput.decode(blob), self._shares)
                if len(msg.vector) != size:
                    raise SecAggRefusal(f"masked input must be {size} bytes")
                j = self.params.index[msg.signer_id]
                self._once(j, accepted)
                accepted[j] = msg
        self._unpaired, accusers = sort_blames(self.params, self._shares, accepted, self._refuse)
        self._sum = MaskAccumulator(self.params.length, self.params.bits, self.config_hash)
        wire = np.dtype(self._sum.dtype).newbyteorder("<")
        for j, msg in sorted(accepted.items()):
            if j not in self._unpaired and j not in accusers:
                self._masked[j] = None
                self._sum.add_vector(np.frombuffer(msg.vector, dtype=wire).astype(self._sum.dtype))
        self._require(len(self._masked), "sent a masked input")
        ids = self.params.participants
        survivors = tuple(ids[i] for i in sorted(self._masked))
        self.survivors = survivors  # the clients whose inputs are in the sum
        dropped = tuple(ids[i] for i in sorted(self._shares.keys() - self._masked.keys()))
        blamed = tuple(ids[j] for j in sorted(self._unpaired))
        lst = SurvivorList(
            self.round_id, self.config_hash, self._identity.key_id, survivors, dropped, blamed
        )
        self._survivor_list = lst.signed_by(self._identity)
        return self._survivor_list

    # --- stage 4 ------------------------------------------------------------
    def consistency_check(self, replies: Sequence[bytes]) -> bytes:
        """Collect survivors' signatures on the one list; send them with the unmask request."""
        self._enter(Phase.CONSISTENCY)

        digest = sha256(self._survivor_list)
        for blob in replies:
            with self._record(blob):
                msg = self._signed(ConsistencyAck.decode(blob), self._masked)
                if msg.survivors_hash != digest:
                    raise SecAggRefusal("acknowledged a survivor list this server did not send")
                j = self.params.index[msg.signer_id]
                self._once(j, self._acks)
                self._acks[j] = blob
        self._require(len(self._acks), "acknowledged the survivor list")
        items = (self._survivor_list, *(self._acks[i] for i in sorted(self._acks)))
        return Relay(self.round_id, self.config_hash, KIND_UNMASK_REQUEST, items).encode()

    # --- stage 5 ------------------------------------------------------------
    def unmask(self, replies: Sequence[bytes]) -> npt.NDArray[np.unsignedinteger]:
        """Reconstruct survivors' self-mask seeds and dropped clients' mask keys; the sum.

        Raises:
            SecAggAbort: some client's secret has fewer than ``threshold`` valid shares.
        """
        self._enter(Phase.UNMASK)
        revealed: dict[int, UnmaskShares] = {}
        for blob in replies:
            with self._record(blob):
                msg = self._signed(UnmaskShares.decode(blob), self._acks)
                j = self.params.index[msg.signer_id]
                self._once(j, revealed)
                revealed[j] = msg
        self._require(len(revealed), "revealed their shares")
        total = unmask_sum(
            self.params,
            self.config_hash,
            self._peers,
            self._shares,
            self._sum,
            frozenset(self._masked),
            revealed,
            self._refuse,
            self._unpaired,
        )
        self.phase = Phase.DONE
        del self._sum
        return total

    # --- helpers ------------------------------------------------------------
    def _enter(self, expected: Phase) -> None:
        if not hasattr(self, "config_hash"):
            raise StageError("call configure() and send its config before any stage")
        self.phase = common.next_phase(self.phase, expected)
        self._stage_name = expected.value

    def _signed(self, msg: Any, allowed: dict[int, Any]) -> Any:
        msg.check_round(self.round_id, self.config_hash)
        j = self.params.index.get(msg.signer_id)
        if j is None or j not in allowed:
            raise StageError(
                "a reply from a client that did not complete the previous stage"
                " (dropped, or never a participant): refused"
            )
        msg.verify(self._roster.lookup(msg.signer_id))
        return msg

    def _once(self, index: int, seen: dict[int, Any]) -> None:
        if index in seen:
            raise ReplayError("a second reply from one client in one stage: refused")

    def _record(self, blob: bytes) -> _Recorder:
        return _Recorder(self, blob)

    def _refuse(self, sender: bytes | None, error: FicalError) -> None:
        self.refused.append(Refusal(self._stage_name, sender, error))
        log.warning("secagg %s: refused a reply: %s", self._stage_name, error)

    def _require(self, count: int, what: str) -> None:
        if count < self.params.threshold:
            self.phase = Phase.ABORTED
            if hasattr(self, "_sum"):
                del self._sum
            raise SecAggAbort(
                f"only {count} clients {what}; threshold {self.params.threshold}:"
                " round aborted, nothing unmasked"
            )


class _Recorder:
    """Context manager: a FicalError in one reply is recorded, not raised."""

    def __init__(self, server: SecAggServer, blob: bytes) -> None:
        self._server, self._blob = server, blob

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> bool:
        if isinstance(exc, FicalError):
            sender = self._blob[45:61] if len(self._blob) >= 61 else None
            self._server._refuse(sender, exc)
            return True
        return False
