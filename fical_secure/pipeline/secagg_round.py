"""The secure-aggregation transport of a round: the server learns only the entry multiset.

Each client turns its released compendium into items (one canonical JSON per
entry and per tool signature), writes them into the slot vector of
:mod:`fical_secure.aggregate.anonymous` (k = 1), or the two passes of
:mod:`fical_secure.aggregate.threshold` (``min_support`` k >= 2), and sends
them masked through SecAgg+; the server unmasks only the sums, decodes the
multiset (item -> how many clients hold it; at k only items k clients hold)
and hands aggregation one anonymous single-item compendium per copy, so
``support`` is counted from the aggregate, never claimed, and no compendium
carries a client's name. The server's record of the round
(``server/secagg_round.json``) holds parameters and counts, no text.

Limits (stated, not hidden): the server cannot validate one client's
compendium as a whole (only each decoded item, which it does); and two
paraphrases of one piece of knowledge from the *same* client count twice
where the sealed mode would count that client once.
"""

from __future__ import annotations

import json
import logging
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fical_secure.aggregate.anonymous import SlotLayout
from fical_secure.aggregate.threshold import (
    EXPECTED_DISTINCT,
    MAX_EXPECTED_DISTINCT,
    Selection,
    ThresholdLayout,
)
from fical_secure.atomic import write_json_atomic
from fical_secure.errors import (
    AggregationError,
    ConfigError,
    PipelineError,
    ProtocolError,
    SchemaError,
    UntrustedInputError,
)
from fical_secure.kcg.schema import Compendium, Entry, ToolSignature, validate_entry
from fical_secure.pipeline.server import ServerRoundState
from fical_secure.protocol.messages import GlobalResult, sha256
from fical_secure.protocol.secagg.ready import sign_ready, verify_ready
from fical_secure.untrusted import loads_bounded

log = logging.getLogger(__name__)
MAX_ITEMS = 64
MAX_ITEM_BYTES = 640
ANONYMOUS_OWNER = "anonymous-{:06d}"
_PLAN = struct.Struct(">IHI")  # n_clients, k, expected distinct items


def items_of(
    compendium: Compendium, max_item_bytes: int = MAX_ITEM_BYTES
) -> tuple[list[bytes], int]:
    """A released compendium as slot items; returns (items, refused) where an item
    too long for a slot is refused and counted, never silently dropped."""
    items, refused = [], 0
    raw = [
        json.dumps(["entry", e.tool, e.kind, e.text], ensure_ascii=False)
        for e in compendium.entries
    ]
    raw += [
        json.dumps(["signature", s.tool, [list(a) for a in s.args]], ensure_ascii=False)
        for s in compendium.signatures
    ]
    for text in raw:
        item = text.encode("utf-8")
        if len(item) > max_item_bytes:
            refused += 1
            log.warning("an item of %d bytes exceeds the %d-byte slot", len(item), max_item_bytes)
            continue
        items.append(item)
    return items, refused


def _parse(item: bytes) -> Entry | ToolSignature:
    try:
        raw = loads_bounded(item)
    except UntrustedInputError:
        raise SchemaError("a decoded item is not JSON") from None
    if isinstance(raw, list) and len(raw) == 4 and raw[0] == "entry":
        return validate_entry(str(raw[1]), str(raw[2]), str(raw[3]))
    if isinstance(raw, list) and len(raw) == 3 and raw[0] == "signature":
        if not isinstance(raw[2], list):
            raise SchemaError("a decoded signature item is malformed")
        args = tuple((str(a[0]), str(a[1])) for a in raw[2] if isinstance(a, list) and len(a) == 2)
        if len(args) != len(raw[2]):
            raise SchemaError("a decoded signature item is malformed")
        return ToolSignature(str(raw[1]), args)
    raise SchemaError("a decoded item is neither an entry nor a signature")


def anonymous_compendiums(multiset: Counter[bytes]) -> tuple[list[Compendium], int]:
    """One single-item compendium per copy, in item order (no client order survives).

    Returns (compendiums, rejected items); an item failing the schema is rejected.
    """
    out: list[Compendium] = []
    rejected = 0
    for item in sorted(multiset):
        try:
            parsed = _parse(item)
        except SchemaError as exc:
            log.warning("a decoded item was rejected by the schema: %s", exc)
            rejected += multiset[item]
            continue
        for _ in range(multiset[item]):
            owner = ANONYMOUS_OWNER.format(len(out) + 1)
            if isinstance(parsed, Entry):
                out.append(Compendium(owner=owner, entries=(parsed,)))
            else:
                out.append(Compendium(owner=owner, entries=(), signatures=(parsed,)))
    return out, rejected


def ready_clients(identities: Iterable[Any], roster: Any, round_id: int) -> set[bytes]:
    """Key ids whose signed ready statement for the round (bound to the roster) verifies.

    The in-process round has no round config: the statement binds the roster's hash.
    """

    context = sha256(roster.encode())
    return {
        verify_ready(
            sign_ready(key, round_id, context, ready=True), roster, round_id, context
        ).signer_id
        for key in identities
    }


def layout_for(
    n_clients: int, min_support: int = 1, expected_distinct: int = EXPECTED_DISTINCT
) -> SlotLayout | ThresholdLayout:
    """The layout of a round of ``n_clients`` (caps are configuration, not data).

    ``min_support`` is the k: 1 gives the one-pass slot vector (the whole
    multiset); k >= 2 the two passes that reveal only items k clients hold,
    the count pass sized from ``expected_distinct``.

    Raises:
        ConfigError: ``min_support`` above ``n_clients``.
    """
    if min_support == 1:
        return SlotLayout(n_clients=n_clients, max_items=MAX_ITEMS, max_item_bytes=MAX_ITEM_BYTES)
    return ThresholdLayout(
        n_clients=n_clients,
        k=min_support,
        max_items=MAX_ITEMS,
        max_item_bytes=MAX_ITEM_BYTES,
        expected_distinct=expected_distinct,
    )


def encode_plan(layout: SlotLayout | ThresholdLayout, selection: Selection | None) -> bytes:
    """What a client needs besides its items to build its masked input: ``n_clients``,
    k (1: the one-pass slot vector), the expected distinct items and, in the entry
    pass, the bucket selection."""
    if isinstance(layout, ThresholdLayout):
        k, distinct = layout.k, layout.expected_distinct
    else:
        k, distinct = 1, EXPECTED_DISTINCT
    body = selection.encode() if selection is not None else b""
    return _PLAN.pack(layout.n_clients, k, distinct) + body


def decode_plan(
    data: bytes, participants: int
) -> tuple[SlotLayout | ThresholdLayout, Selection | None]:
    """The layout and selection of a plan, for a round of ``participants``.

    Raises:
        ProtocolError: malformed, or a layout for fewer clients than the round's.
    """
    if len(data) < _PLAN.size:
        raise ProtocolError("the secure-aggregation plan is malformed")
    n_clients, k, distinct = _PLAN.unpack_from(data)
    if not participants <= n_clients <= 1_000_000 or not 1 <= k <= n_clients:
        raise ProtocolError(
            f"a plan for {n_clients} clients and k={k} in a round of {participants}"
        )
    if not 1 <= distinct <= MAX_EXPECTED_DISTINCT:
        raise ProtocolError(f"a plan expecting {distinct} distinct items")
    try:
        layout = layout_for(n_clients, k, distinct)
        selection = Selection.decode(data[_PLAN.size :]) if len(data) > _PLAN.size else None
    except (AggregationError, ConfigError) as exc:
        raise ProtocolError(f"the secure-aggregation plan is malformed: {exc}") from None
    if selection is not None and k == 1:
        raise ProtocolError("a bucket selection for the one-pass slot vector")
    return layout, selection


@dataclass
class SecAggPublisher:
    """Server-signed global result (the same GlobalResult format); each client verifies it."""

    server_identity: Any  # fical_secure.crypto.identity.IdentityKey
    round_id: int
    config_hash: bytes
    contributors: int
    n_clients: int

    def publish(self, server: ServerRoundState) -> int:
        if server.global_compendium is None:
            raise PipelineError("nothing was aggregated this round")
        payload = server.global_compendium.to_bytes()
        result = GlobalResult(
            self.round_id, self.config_hash, self.contributors, payload, self.server_identity.key_id
        ).signed(self.server_identity)
        server.result = result
        wire = result.encode()
        for _ in range(self.n_clients):
            received = GlobalResult.decode(wire)
            received.verify(self.server_identity.public)
            if received.payload != payload or received.config_hash != self.config_hash:
                raise ProtocolError("a client read back a different global compendium")
        return len(wire) * self.n_clients


def record_server_state(folder: Path, record: dict[str, Any]) -> None:
    """What the server keeps of the round: parameters and counts, never text."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / "secagg_round.json", record)
