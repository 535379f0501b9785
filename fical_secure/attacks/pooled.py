"""The anonymous secure-aggregation view: the server holds one pooled multiset, no senders.

Each client's hardened release goes through the secure-aggregation transport
the pipeline uses (:func:`fical_secure.pipeline.multiset.items_of`, slot
vectors summed by an in-process SecAgg+ round, peeled by
:func:`fical_secure.pipeline.secagg_round.anonymous_multiset`, parsed by
:func:`~fical_secure.pipeline.multiset.anonymous_compendiums`). What comes
out is what the server learns: the multiset of entries with their support
counts. The attacked artefact lists each distinct entry once, rendered as the
per-client compendium modes render it, ordered by content id and named by
content id, so neither order nor ids carry a sender. Tool signatures travel
too but are left out of the artefact, as in ``compendium_hardened``.

Who wrote each entry is kept beside the artefact, for scoring the attribution
game only; it is computed from the clients' own items, never from the round.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from fical_secure.audit.artefact import SharedArtefact
from fical_secure.errors import SecAggAbort
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.pipeline import multiset as ms
from fical_secure.pipeline.secagg_round import anonymous_multiset
from fical_secure.protocol.secagg import Federation
from fical_secure.protocol.secagg.params import MIN_PARTICIPANTS

log = logging.getLogger(__name__)
POOLED_OWNER = "anonymous"


@dataclass(frozen=True)
class PooledRound:
    """The pooled artefact, its tools, each item's writers (scoring only), and the cost."""

    artefact: SharedArtefact
    tools: tuple[str, ...]
    writers: tuple[frozenset[str], ...]
    upload_bytes_per_client: int
    aborted: str | None = None  # why secure aggregation produced nothing


def pooled_round(released: Mapping[str, Compendium | None], n_clients: int) -> PooledRound:
    """Run the anonymous aggregation over every released compendium (``None``: blocked).

    A blocked client sends nothing and drops out of the round; when too few
    clients remain, SecAgg aborts and the server holds nothing. Fewer than
    :data:`~fical_secure.protocol.secagg.params.MIN_PARTICIPANTS` clients cannot
    run it at all (each would learn its peer's input from the sum), and the
    server holds nothing either.

    Raises:
        AggregationError: slot collisions remained after every retry.
    """

    empty = SharedArtefact("compendium", POOLED_OWNER, (), ())
    if n_clients < MIN_PARTICIPANTS:
        reason = f"secure aggregation needs at least {MIN_PARTICIPANTS} clients, not {n_clients}"
        log.warning("%s: the server holds nothing", reason)
        return PooledRound(empty, (), (), 0, aborted=reason)
    layout = ms.layout_for(n_clients)
    federation = Federation.create(n_clients, bits=32, length=layout.length)
    ids = sorted(federation.clients)
    senders = dict(zip(ids, sorted(released), strict=False))
    items = {}
    for key_id, cid in senders.items():
        comp = released[cid]
        if comp is not None:
            items[key_id] = ms.items_of(comp)[0]
    try:
        result = anonymous_multiset(federation, items, layout)
    except SecAggAbort as exc:
        log.warning("secure aggregation aborted, the server holds nothing: %s", exc)
        return PooledRound(empty, (), (), 0, aborted=str(exc))
    received, _ = ms.anonymous_compendiums(result.items)
    entries: dict[str, Entry] = {}
    for comp in received:
        for entry in comp.entries:
            entries.setdefault(entry.entry_id, entry)
    writers = _writers(released)
    order = sorted(entries)
    artefact = SharedArtefact(
        "compendium", POOLED_OWNER, tuple(order), tuple(entries[i].render() for i in order)
    )
    return PooledRound(
        artefact,
        tuple(entries[i].tool for i in order),
        tuple(writers.get(i, frozenset()) for i in order),
        result.upload_bytes // max(1, len(items)),
    )


def _writers(released: Mapping[str, Compendium | None]) -> dict[str, frozenset[str]]:
    """Entry id -> the clients whose release holds it (the attribution game's ground truth)."""
    found: dict[str, set[str]] = {}
    for cid, comp in released.items():
        for entry in comp.entries if comp is not None else ():
            found.setdefault(entry.entry_id, set()).add(cid)
    return {k: frozenset(v) for k, v in found.items()}
