"""Secure aggregation (SecAgg / SecAgg+): the server learns only the sum of the inputs.

Bonawitz et al. (CCS'17) with the k-regular neighbour graph of Bell et al.
(CCS'20); parameters and their security meaning in
:mod:`~fical_secure.protocol.secagg.params`. Transport-agnostic: every stage
method takes and returns encoded ``bytes`` (the codec of
:mod:`fical_secure.protocol.codec`), so Flower's Message API, a queue or the
in-process driver can carry them unchanged. Stable API::

    server = SecAggServer(server_identity, roster, params, round_id)
    client = SecAggClient(client_identity, server_identity.public, roster)

    config     = server.configure()                         # broadcast
    advert     = client.advertise_keys(config)              # stage 1 reply
    directory  = server.advertise_keys([advert, ...])       # broadcast
    shares     = client.share_keys(directory)               # stage 2 reply
    bundles    = server.share_keys([shares, ...])           # {client key id: bytes}
    masked     = client.masked_input(bundles[id], vector)   # stage 3 reply (uint words)
    survivors  = server.masked_input([masked, ...])         # broadcast (server-signed)
    ack        = client.consistency_check(survivors)        # stage 4 reply
    request    = server.consistency_check([ack, ...])       # broadcast
    reveal     = client.unmask(request)                     # stage 5 reply
    total      = server.unmask([reveal, ...])               # sum mod 2^bits of survivors

Both objects hold the round's secrets in memory (mask keys, seeds, held
shares) and refuse pickling: a transport keeps one object per party for the
whole round (Flower: one per node, looked up by node id), never serialises it.

A transport waits ``server.timeout_s(stage)`` seconds (0..4) for the replies
of each stage and passes whatever arrived; a missing reply is a dropout. A
client refuses a request that arrives after the deadline of the signed config.
Replies the server refuses are listed in ``server.refused`` with typed errors.
Either side raises :class:`~fical_secure.errors.SecAggAbort` when fewer than
``threshold`` remain, before anything is revealed.
``run_secagg_round(Federation.create(n, bits=..., length=...), inputs)`` runs
a round in-process. Numeric FedAvg and anonymous compendium aggregation are
built on top in :mod:`fical_secure.protocol.secagg.apps` and
:mod:`fical_secure.pipeline.multiset`.
"""

from fical_secure.protocol.secagg.client import SecAggClient
from fical_secure.protocol.secagg.driver import Federation, RoundOutcome, run_secagg_round
from fical_secure.protocol.secagg.params import SecAggParams
from fical_secure.protocol.secagg.server import Refusal, SecAggServer

__all__ = [
    "Federation",
    "Refusal",
    "RoundOutcome",
    "SecAggClient",
    "SecAggParams",
    "SecAggServer",
    "run_secagg_round",
]
