"""The secure-aggregation client: one method per stage, bytes in, bytes out.

Every method checks the stage order, the deadline of the signed config, the
round and config hash, and every signature before it uses anything; any
failure aborts the client for good (secrets erased) and raises a typed error,
so a misbehaving server gets at most one refusal. The client never reveals
both the self-mask share and the mask-key share of one peer (nor its pairwise
seed with a peer it does not see dropped), and refuses to go on when fewer
than ``threshold`` of its neighbourhood remain. A neighbour whose dealt
shares fail is dropped and blamed, not obeyed or allowed to abort the round.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

import numpy as np
import numpy.typing as npt

from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.identity import IdentityKey, IdentityPublicKey, RoundKey, Unpicklable
from fical_secure.crypto.masking import MaskAccumulator, MaskKey, MaskKind
from fical_secure.errors import FicalError, SecAggAbort, SecAggRefusal, SecAggTimeout, StoreError
from fical_secure.jsontypes import JsonObject
from fical_secure.protocol.messages import sha256
from fical_secure.protocol.secagg import common
from fical_secure.protocol.secagg.client_state import secrets_from_json, secrets_to_json
from fical_secure.protocol.secagg.common import Phase
from fical_secure.protocol.secagg.dealing import Seat, deal, open_bundle
from fical_secure.protocol.secagg.floors import SecAggFloors
from fical_secure.protocol.secagg.messages import (
    KIND_DIRECTORY,
    KIND_SHARE_BUNDLE,
    KIND_UNMASK_REQUEST,
    AdvertiseKeys,
    ConsistencyAck,
    MaskedInput,
    Relay,
    SecAggConfig,
    SurvivorList,
    UnmaskShares,
)
from fical_secure.protocol.secagg.peers import config_params, read_directory, relay_check

STATE_FORMAT: Final = "fical-secure secagg-client-state v1"


class SecAggClient(Unpicklable):
    """One client's side of one secure-aggregation round."""

    def __init__(
        self,
        identity: IdentityKey,
        server: IdentityPublicKey,
        roster: Roster,
        *,
        clock: Callable[[], float] = time.time,
        floors: SecAggFloors | None = None,
    ) -> None:
        """``roster`` must be the server-signed roster; it is verified here.
        ``floors``: the weakest signed parameters this client accepts (default:
        :class:`SecAggFloors`'s recommended floors).

        Raises:
            InvalidSignature: the roster is not signed by ``server``.
        """
        roster.verify(server)
        self._identity, self._server, self._roster, self._clock = identity, server, roster, clock
        self._floors = floors or SecAggFloors()
        self.phase = Phase.ADVERTISE_KEYS
        self._deadline = float("inf")
        self.revealed: dict[bytes, bytes] = {}  # dealer -> which secret's share went out

    @property
    def key_id(self) -> bytes:
        """This client's identity key id."""
        return self._identity.key_id

    @contextmanager
    def _stage(self, expected: Phase, stage_index: int) -> Iterator[None]:
        """Order, deadline, and abort-on-any-failure around one stage method."""
        if self._clock() > self._deadline:
            self._abort()
            raise SecAggTimeout(
                f"{expected.value} request came after the deadline of the signed config"
            )
        following = common.next_phase(self.phase, expected)
        try:
            yield
        except FicalError:
            self._abort()
            raise
        self.phase = following
        if following is not Phase.DONE:
            self._deadline = self._clock() + self.params.timeouts_s[stage_index]

    def _abort(self) -> None:
        self.phase = Phase.ABORTED
        self._erase()

    def _erase(self) -> None:
        """Drop every secret of the round (keys, seed, held shares)."""
        for name in ("_enc", "_mask", "_seed", "_held"):
            if hasattr(self, name):
                delattr(self, name)

    def _take_config(self, config: bytes) -> None:
        cfg = SecAggConfig.decode(config)
        cfg.verify(self._server)
        self.params = config_params(cfg, self._roster)
        self._floors.check(self.params)
        if self.key_id not in self.params.index:
            raise SecAggRefusal("this client is not a participant of the round")
        self.round_id, self.config_hash = cfg.round_id, cfg.hash
        self.me = self.params.index[self.key_id]
        self._config = config

    # --- stage 1 -----------------------------------------------------------
    def advertise_keys(self, config: bytes) -> bytes:
        """Check the signed config; answer with identity-signed per-round keys."""
        with self._stage(Phase.ADVERTISE_KEYS, 0):
            self._take_config(config)
            self._enc, self._mask = RoundKey.generate(), MaskKey.generate()
            msg = AdvertiseKeys(
                self.round_id,
                self.config_hash,
                self.key_id,
                self._enc.public_bytes(),
                self._mask.public_bytes(),
            )
            return msg.signed_by(self._identity)

    # --- stage 2 -----------------------------------------------------------
    def share_keys(self, directory: bytes) -> bytes:
        """Check every peer's signed keys; seal shares of seed and mask key to ``N[i]``."""
        with self._stage(Phase.SHARE_KEYS, 1):
            relay = Relay.decode(directory, KIND_DIRECTORY)
            peers = read_directory(
                relay,
                self.params,
                self._roster,
                self.round_id,
                self.config_hash,
                self.params.closed(self.me),
            )
            own = peers.get(self.me)
            if own is None or (own.encryption_public, own.mask_public) != (
                self._enc.public_bytes(),
                self._mask.public_bytes(),
            ):
                raise SecAggRefusal("the key directory does not carry this client's own keys")
            self._peers = peers
            holders = sorted(self.params.closed(self.me) & peers.keys())
            self._need(len(holders), "advertised their keys")
            self._seed = os.urandom(common.SECRET_SIZE)
            seat = Seat(self.params, self.me, self.key_id, self.round_id, self.config_hash)
            msg, self._held = deal(
                seat, self._identity, peers, self._seed, self._mask.export_for_sharing()
            )
            return msg.signed_by(self._identity)

    # --- stage 3 -----------------------------------------------------------
    def masked_input(self, bundle: bytes, vector: npt.NDArray[np.unsignedinteger]) -> bytes:
        """Open the shares dealt to this client; send ``vector`` under all masks.

        A dealer whose shares fail is left out of this client's masks and named
        in the reply (blamed), so the server drops that dealer, not the round.
        """
        with self._stage(Phase.MASKED_INPUT, 2):
            relay = Relay.decode(bundle, KIND_SHARE_BUNDLE)
            relay_check(relay, self.round_id, self.config_hash)
            seat = Seat(self.params, self.me, self.key_id, self.round_id, self.config_hash)
            self._blamed = open_bundle(
                seat, relay.items, self._enc, self._roster, self._peers, self._held
            )
            self._need(len(self._held), "shared their keys")
            acc = MaskAccumulator(self.params.length, self.params.bits, self.config_hash)
            self._check_vector(vector, acc)
            acc.add_vector(vector)
            acc.add(self._seed, MaskKind.SELF)
            for j in sorted(self._held.keys() - {self.me}):
                seed = self._mask.pairwise_seed(self._peers[j].mask_public, self.config_hash)
                if common.adds_pairwise(self.me, j):
                    acc.add(seed, MaskKind.PAIRWISE)
                else:
                    acc.subtract(seed, MaskKind.PAIRWISE)
            self._masked_with = frozenset(self._held)
            msg = MaskedInput(
                self.round_id,
                self.config_hash,
                self.key_id,
                acc.reduced().astype(acc.value.dtype.newbyteorder("<")).tobytes(),
                tuple(self.params.participants[j] for j in sorted(self._blamed)),
            )
            return msg.signed_by(self._identity)

    def _check_vector(self, vector: npt.NDArray[np.unsignedinteger], acc: MaskAccumulator) -> None:
        if vector.shape != (acc.length,) or vector.dtype != acc.dtype:
            raise SecAggRefusal(
                f"input must be {acc.length} words of {acc.dtype.__name__}; quantise it first"
            )
        if (
            self.params.bits < 8 * vector.itemsize
            and int(vector.max(initial=0)) >> self.params.bits
        ):
            raise SecAggRefusal(f"input words must be below 2^{self.params.bits}")

    # --- stage 4 -----------------------------------------------------------
    def consistency_check(self, survivors: bytes) -> bytes:
        """Check the server-signed survivor list against what this client saw; sign it."""
        with self._stage(Phase.CONSISTENCY, 3):
            lst = SurvivorList.decode(survivors)
            lst.verify(self._server)
            lst.check_round(self.round_id, self.config_hash)
            alive, dropped = self._indices(lst.survivors), self._indices(lst.dropped)
            if alive & dropped:
                raise SecAggRefusal("a client is listed both as survivor and as dropped")
            if self.me not in alive:
                raise SecAggRefusal("the list names this client dropped, but it sent its input")
            mine, blamed, accused = self._masked_with, self._blamed, self._indices(lst.blamed)
            if (alive | dropped) & self.params.closed(self.me) != mine | blamed or alive & blamed:
                raise SecAggRefusal("the survivor list disagrees with the shares this client got")
            if not blamed <= accused <= dropped:
                raise SecAggRefusal("the list's blamed dealers are not dropped, or omit this one's")
            self._need(len(alive & mine), "sent a masked input")
            self._survivors, self._alive, self._dropped = survivors, alive, dropped
            self._accused = accused
            ack = ConsistencyAck(self.round_id, self.config_hash, self.key_id, sha256(survivors))
            return ack.signed_by(self._identity)

    # --- stage 5 -----------------------------------------------------------
    def unmask(self, request: bytes) -> bytes:
        """Check neighbours' acks on the same list; reveal one share per peer, never two."""
        with self._stage(Phase.UNMASK, 4):
            relay = Relay.decode(request, KIND_UNMASK_REQUEST)
            relay_check(relay, self.round_id, self.config_hash)
            if not relay.items or relay.items[0] != self._survivors:
                raise SecAggRefusal("the unmask request carries another survivor list")
            acked = self._check_acks(relay.items[1:])
            self._need(len(acked & self.params.closed(self.me)), "acknowledged the same list")
            return self._reveal().signed_by(self._identity)

    def _check_acks(self, acks: tuple[bytes, ...]) -> set[int]:
        digest, acked = sha256(self._survivors), set()
        for blob in acks:
            ack = ConsistencyAck.decode(blob)
            ack.check_round(self.round_id, self.config_hash)
            j = self.params.index.get(ack.signer_id)
            if j is None or j not in self._alive or j in acked:
                raise SecAggRefusal("an acknowledgement from a non-survivor or a repeat")
            if j not in self.params.closed(self.me):
                continue  # only the neighbourhood's acks count here, so only they are checked
            ack.verify(self._roster.lookup(ack.signer_id))
            if ack.survivors_hash != digest:
                raise SecAggRefusal("a client acknowledged another survivor list: views differ")
            acked.add(j)
        return acked

    def _reveal(self) -> UnmaskShares:
        self_dealers, self_shares, mask_dealers, mask_shares = [], [], [], []
        for j in sorted(self._held):
            dealer = self.params.participants[j]
            kind = common.SELF_SECRET if j in self._alive else common.MASK_SECRET
            if self.revealed.get(dealer, kind) != kind:
                raise SecAggRefusal("refusing to reveal both shares of one client")
            self.revealed[dealer] = kind
            if kind == common.SELF_SECRET:
                self_dealers.append(dealer)
                self_shares.append(self._held[j][0].y)
            else:
                mask_dealers.append(dealer)
                mask_shares.append(self._held[j][1].y)
        accused = sorted(self._accused & self._masked_with - {self.me})  # all dropped
        seeds = tuple(
            self._mask.pairwise_seed(self._peers[j].mask_public, self.config_hash) for j in accused
        )
        self._erase()
        return UnmaskShares(
            self.round_id,
            self.config_hash,
            self.key_id,
            tuple(self_dealers),
            tuple(self_shares),
            tuple(mask_dealers),
            tuple(mask_shares),
            tuple(self.params.participants[j] for j in accused),
            seeds,
        )

    # --- between processes --------------------------------------------------
    def export_state(self) -> bytes:
        """Everything this client holds mid-round, secrets included, as JSON bytes.

        For a transport that runs each stage in a fresh process (Flower's
        ClientApp): seal it before it touches disk
        (:class:`fical_secure.protocol.secagg.persist.SecAggStateFile`) and
        rebuild the client with :meth:`restore`. A finished or aborted client
        exports no secret.
        """
        state: JsonObject = {
            "format": STATE_FORMAT,
            "key_id": self.key_id.hex(),
            "phase": self.phase.value,
            "deadline": None if self._deadline == float("inf") else self._deadline,
            "revealed": {d.hex(): kind.hex() for d, kind in sorted(self.revealed.items())},
        }
        if hasattr(self, "_config"):
            state["config"] = self._config.hex()
        state.update(secrets_to_json(self))
        if hasattr(self, "_survivors"):
            state["survivors"] = self._survivors.hex()
        return json.dumps(state, sort_keys=True).encode()

    @classmethod
    def restore(
        cls,
        identity: IdentityKey,
        server: IdentityPublicKey,
        roster: Roster,
        blob: bytes,
        *,
        clock: Callable[[], float] = time.time,
        floors: SecAggFloors | None = None,
    ) -> SecAggClient:
        """The client :meth:`export_state` wrote; every signed part is verified again.

        Raises:
            StoreError: the state is malformed or belongs to another identity.
            InvalidSignature, SecAggRefusal: its config no longer verifies.
        """
        try:
            raw = json.loads(blob)
            if not isinstance(raw, dict) or raw.get("format") != STATE_FORMAT:
                raise StoreError("not a secure-aggregation client state")
            client = cls(identity, server, roster, clock=clock, floors=floors)
            if bytes.fromhex(raw["key_id"]) != identity.key_id:
                raise StoreError("the saved secure-aggregation state is another client's")
            client.phase = Phase(raw["phase"])
            deadline = raw["deadline"]
            client._deadline = float("inf") if deadline is None else float(deadline)
            client.revealed = {
                bytes.fromhex(d): bytes.fromhex(k) for d, k in raw["revealed"].items()
            }
            if "config" in raw:
                client._take_config(bytes.fromhex(raw["config"]))
            secrets_from_json(client, raw)
            if "survivors" in raw:
                survivors = bytes.fromhex(raw["survivors"])
                lst = SurvivorList.decode(survivors)
                lst.verify(server)
                client._survivors = survivors
                client._alive = client._indices(lst.survivors)
                client._dropped = client._indices(lst.dropped)
                client._accused = client._indices(lst.blamed)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(f"the saved secure-aggregation state is malformed: {exc}") from None
        return client

    def _indices(self, ids: tuple[bytes, ...]) -> frozenset[int]:
        out = frozenset(self.params.index[i] for i in ids if i in self.params.index)
        if len(out) != len(ids):
            raise SecAggRefusal("a list names a non-participant or repeats a client")
        return out

    def _need(self, count: int, what: str) -> None:
        if count < self.params.threshold:
            raise SecAggAbort(
                f"only {count} of this client's neighbourhood {what}; threshold is"
                f" {self.params.threshold}: aborting with nothing revealed"
            )
