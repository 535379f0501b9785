"""In-process driver: one secure-aggregation round over real keys, for tests and the demo.

:func:`run_secagg_round` plays the transport: it hands each stage's request
to every client still online, collects the replies, and calls the server's
stage method. ``dropouts[stage]`` names clients that go silent from that
stage on (0 = advertise keys ... 4 = unmask); a client that refuses or aborts
raises a typed error, which is recorded and makes it silent too.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.identity import IdentityKey
from fical_secure.errors import FicalError, SecAggAbort
from fical_secure.protocol.secagg.client import SecAggClient
from fical_secure.protocol.secagg.floors import SecAggFloors
from fical_secure.protocol.secagg.params import DEFAULT_TIMEOUTS_S, SecAggParams
from fical_secure.protocol.secagg.server import SecAggServer

UIntVector = npt.NDArray[np.unsignedinteger]


@dataclass
class Federation:
    """Identities, roster and parties of one in-process secure-aggregation round."""

    server: SecAggServer
    clients: dict[bytes, SecAggClient]
    server_identity: IdentityKey
    client_identities: dict[bytes, IdentityKey]
    roster: Roster
    floors: SecAggFloors = field(default_factory=SecAggFloors)

    @classmethod
    def create(
        cls,
        n: int,
        *,
        bits: int,
        length: int,
        round_id: int = 1,
        k: int | None = None,
        threshold: int | None = None,
        timeouts_s: tuple[int, ...] = DEFAULT_TIMEOUTS_S,
        floors: SecAggFloors | None = None,
    ) -> Federation:
        """``n`` fresh enrolled clients; parameters from :meth:`SecAggParams.recommended`
        unless ``k`` / ``threshold`` are given (``floors``: the clients' own, default
        recommended). This driver runs the clients one after another, so a large ``n``
        needs ``timeouts_s`` longer than a real deployment's."""
        server_key = IdentityKey.generate()
        keys = [IdentityKey.generate() for _ in range(n)]
        roster = Roster.create(server_key, [k_.public for k_ in keys], epoch=1)
        return cls.enrolled(
            server_key,
            {k_.key_id: k_ for k_ in keys},
            roster,
            round_id,
            bits=bits,
            length=length,
            k=k,
            threshold=threshold,
            timeouts_s=timeouts_s,
            floors=floors,
        )

    @classmethod
    def enrolled(
        cls,
        server_identity: IdentityKey,
        client_identities: dict[bytes, IdentityKey],
        roster: Roster,
        round_id: int,
        *,
        bits: int,
        length: int,
        k: int | None = None,
        threshold: int | None = None,
        timeouts_s: tuple[int, ...] = DEFAULT_TIMEOUTS_S,
        floors: SecAggFloors | None = None,
    ) -> Federation:
        """A round among already enrolled identities (participants in key-id order)."""
        ids = tuple(sorted(client_identities))
        # a fresh random graph per round (SecAgg+ assumes the graph is not adversarial)
        rec = SecAggParams.recommended(ids, bits=bits, length=length, graph_seed=os.urandom(32))
        params = SecAggParams(
            ids, threshold or rec.threshold, k or rec.k, bits, length, rec.graph_seed, timeouts_s
        )
        server = SecAggServer(server_identity, roster, params, round_id)
        pub = server_identity.public
        own = floors or SecAggFloors()
        clients = {
            c: SecAggClient(key, pub, roster, floors=own) for c, key in client_identities.items()
        }
        return cls(server, clients, server_identity, dict(client_identities), roster, own)

    def next_round(self, round_id: int, length: int) -> Federation:
        """The same enrolled identities and graph in a fresh round of ``length`` words."""
        p = self.server.params
        params = SecAggParams(
            p.participants, p.threshold, p.k, p.bits, length, p.graph_seed, p.timeouts_s
        )
        server = SecAggServer(self.server_identity, self.roster, params, round_id)
        pub = self.server_identity.public
        clients = {
            c: SecAggClient(k, pub, self.roster, floors=self.floors)
            for c, k in self.client_identities.items()
        }
        return Federation(
            server, clients, self.server_identity, self.client_identities, self.roster, self.floors
        )


@dataclass
class RoundOutcome:
    """What the round produced and who dropped or refused on the way."""

    total: UIntVector
    survivors: tuple[bytes, ...]
    client_errors: dict[bytes, FicalError] = field(default_factory=dict)
    upload_bytes: int = 0  # every reply the clients sent
    download_bytes: int = 0  # every request the clients received


Ask = Callable[[int, Mapping[bytes, bytes]], list[bytes]]
InputSource = Mapping[bytes, UIntVector] | Callable[[bytes, bytes], "UIntVector | None"]


def drive_stages(server: SecAggServer, ask: Ask) -> UIntVector:
    """The five stages against any transport; the unmasked sum.

    ``ask(stage, requests)`` delivers ``requests[client_id]`` to each client
    still online and returns the replies that came back in time (stage 0 =
    advertise keys ... 4 = unmask). The in-process driver below and the
    Flower ServerApp are the two transports; the stage logic is all here and
    in :class:`SecAggServer`.

    Raises:
        SecAggAbort: the server could not reach ``threshold`` at some stage.
    """
    everyone = server.params.participants
    config = server.configure()
    directory = server.advertise_keys(ask(0, dict.fromkeys(everyone, config)))
    bundles = server.share_keys(ask(1, dict.fromkeys(everyone, directory)))
    survivors = server.masked_input(ask(2, bundles))
    request = server.consistency_check(ask(3, dict.fromkeys(everyone, survivors)))
    return server.unmask(ask(4, dict.fromkeys(everyone, request)))


def run_secagg_round(
    federation: Federation,
    inputs: InputSource,
    *,
    dropouts: Mapping[int, Collection[bytes]] | None = None,
) -> RoundOutcome:
    """Run all five stages in this process; the sum modulo 2^bits of the survivors' inputs.

    ``inputs``: each client's vector, or ``(client_id, config_hash) -> vector``
    (``None``: that client has no input and drops out) for inputs that depend
    on the round's signed config.

    Raises:
        SecAggAbort: the server could not reach ``threshold`` at some stage.
    """
    drops = dropouts or {}
    server, clients = federation.server, federation.clients
    online = set(clients)
    errors: dict[bytes, FicalError] = {}
    traffic = [0, 0]

    def vector_of(cid: bytes) -> UIntVector | None:
        if callable(inputs):
            return inputs(cid, server.config_hash)
        return inputs.get(cid)

    def ask(stage: int, request: Mapping[bytes, bytes]) -> list[bytes]:
        online.difference_update(drops.get(stage, ()))
        replies = []
        for cid in sorted(online & request.keys()):
            traffic[1] += len(request[cid])
            try:
                vector = vector_of(cid) if stage == 2 else None
                replies.append(step(clients[cid], stage, request[cid], vector))
                traffic[0] += len(replies[-1])
            except FicalError as exc:
                errors[cid] = exc
                online.discard(cid)
        return replies

    try:
        total = drive_stages(server, ask)
    except SecAggAbort as exc:
        kinds = Counter(type(e).__name__ for e in errors.values())
        exc.add_note(f"client-side errors before the abort: {dict(kinds) or 'none'}")
        raise
    return RoundOutcome(total, server.survivors, errors, traffic[0], traffic[1])


def step(client: SecAggClient, stage: int, request: bytes, vector: UIntVector | None) -> bytes:
    """One client's reply to the request of ``stage`` (its input at stage 2)."""
    if stage == 0:
        return client.advertise_keys(request)
    if stage == 1:
        return client.share_keys(request)
    if stage == 2:
        if vector is None:  # it refused its own input (e.g. failed closed): a dropout
            raise SecAggAbort("this client has no input for the round; it drops out")
        return client.masked_input(request, vector)
    if stage == 3:
        return client.consistency_check(request)
    return client.unmask(request)
