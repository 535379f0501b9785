"""Anonymous multisets thresholded at k holders: bucket counts first, then entries.

Two secure-aggregation sums, one round each; the server sees only the sums.

Pass 1 (counts). For each of its distinct items and each of ``tables`` count
tables, a client adds to the item's bucket (a keyed hash, key fresh per
round) 1, the item's fingerprint ``f`` (another keyed 32-bit hash) and
``f^2``, modulo 2^32. The sum gives, per bucket, ``count`` (holders of the
items hashed there), ``fpsum`` and ``fp2sum``.

Selection (public, from the sum): a bucket of ``c`` copies of one item has
``fpsum^2 == c * fp2sum`` (it is *pure*; two items pass with probability
about 2^-16). The server selects the pure buckets with ``k <= count <=
contributors``, one per item: the same item is pure with the same ``(count,
fpsum)`` in each table, so only its first table's bucket is kept. A count
above ``contributors * max_items`` (or wrapped negative) is impossible for
honest clients and refused as forged.

Pass 2 (entries). One slot per selected bucket, nothing else. A client writes
an item (:func:`~fical_secure.aggregate.anonymous.item_cell`) into the slot of
the selected bucket that is pure for it by its own check: ``count >= k`` and
``fpsum == count * f`` modulo 2^32, i.e. every copy counted there is this very
item (another item passes with probability about 2^-32). So an item is written
only if at least k holders counted it in pass 1, and never shares a slot with
another item: a slot sums ``count`` copies of one item, which the server
divides and verifies by checksum. Every holder picks the same slot. An item
whose bucket is impure in every table is not written this round (probability
about ``(1 - exp(-D / buckets))^tables`` for ``D`` distinct items): such
collisions are dropped, never retried, and no slot mixing a sub-k item is
ever summed.

Many small tables beat few large ones at the same size (as a Bloom filter's
hash count): with ``T`` cells in all, an item is lost with probability about
``(1 - exp(-D * tables / T))^tables``, least near ``tables = (T / D) ln 2``;
the default 8 tables of ``3 * expected_distinct`` buckets lose about 4e-5 of
the items at ``D = expected_distinct``.

Upload per client: ``tables * buckets * 3`` words in pass 1, sized from the
expected number of distinct items (a utility parameter: too few buckets loses
more items to impure buckets, never reveals a sub-k one), and ``selected *
slot_words`` in pass 2, one slot per selected bucket; neither grows with the
number of hospitals. What the server learns from pass 1 and what a malicious
client can do are in threat_models/secure-aggregation.md.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fical_secure.aggregate.anonymous import (
    WORD,
    ItemTooLong,
    SlotLayout,
    UIntArray,
    item_cell,
    pure_cell,
)
from fical_secure.errors import AggregationError, ConfigError, SlotForgery

MIN_BUCKETS = 64
MAX_TABLES = 15  # a SHA-512 digest: 4 bytes per table, the last 4 the fingerprint
# distinct items a round is expected to hold (the default of aggregate.expected_distinct):
# sizes the count pass; more distinct items lose more to shared buckets, never reveal one
EXPECTED_DISTINCT = 1024
MAX_EXPECTED_DISTINCT = 1 << 20
_CELL = struct.Struct(">III")  # selected bucket: flat index, count, fingerprint sum


@dataclass(frozen=True)
class ThresholdLayout:
    """Geometry of both passes: agreed by every client and the server."""

    n_clients: int
    k: int
    max_items: int  # per client
    max_item_bytes: int
    expected_distinct: int  # distinct items expected in the federation (sizes pass 1)
    tables: int = 8
    load: int = 24  # count buckets per expected distinct item, over all tables

    def __post_init__(self) -> None:
        if min(self.n_clients, self.max_items, self.max_item_bytes, self.expected_distinct) < 1:
            raise ConfigError("n_clients, max_items, max_item_bytes, expected_distinct: positive")
        if self.expected_distinct > MAX_EXPECTED_DISTINCT:
            raise ConfigError(f"expected_distinct above {MAX_EXPECTED_DISTINCT}")
        if not 2 <= self.k <= self.n_clients:
            raise ConfigError(
                f"the threshold k={self.k} must be in 2..{self.n_clients} (k=1 is the one-pass"
                " slot vector of fical_secure.aggregate.anonymous)"
            )
        if not 1 <= self.tables <= MAX_TABLES or not 1 <= self.load <= 1024:
            raise ConfigError(f"tables in 1..{MAX_TABLES} and load in 1..1024")

    @property
    def buckets(self) -> int:
        """Buckets per count table (``load`` per expected item over all tables)."""
        return max(MIN_BUCKETS, -(-self.expected_distinct * self.load // self.tables))

    @property
    def count_length(self) -> int:
        """Words of the pass-1 vector: count, fingerprint sum and square sum per bucket."""
        return self.tables * self.buckets * 3

    @property
    def length(self) -> int:
        """Words of the first round (the count pass), as :attr:`SlotLayout.length`."""
        return self.count_length

    @property
    def slot(self) -> SlotLayout:
        """Geometry of one pass-2 slot: at most one copy of one item per client."""
        return SlotLayout(n_clients=self.n_clients, max_items=1, max_item_bytes=self.max_item_bytes)

    def entries_length(self, selected: int) -> int:
        """Words of the pass-2 vector over ``selected`` buckets."""
        return selected * self.slot.slot_words

    def upload_bytes(self, selected: int) -> int:
        """One client's masked input bytes over both passes (32-bit words)."""
        return 4 * (self.count_length + self.entries_length(selected))


def round_bucket_key(config_hash: bytes) -> bytes:
    """The bucket key of a pass-1 round, from its server-signed config hash."""
    if len(config_hash) != 32:
        raise ConfigError("a config hash is 32 bytes")
    return hashlib.sha256(b"fical-secure/v1/bucket-key\x00" + config_hash).digest()


def _hashes(item: bytes, key: bytes, layout: ThresholdLayout) -> tuple[list[int], int]:
    """(flat bucket index per table, fingerprint) of one item."""
    digest = hashlib.sha512(b"fical-secure/v1/bucket\x00" + key + item).digest()
    n = layout.buckets
    flat = [
        t * n + int.from_bytes(digest[4 * t : 4 * t + 4], "big") % n for t in range(layout.tables)
    ]
    return flat, int.from_bytes(digest[60:64], "big")


def _distinct(items: Sequence[bytes], layout: ThresholdLayout) -> list[bytes]:
    distinct = sorted(set(items))
    if len(distinct) > layout.max_items:
        raise AggregationError(f"{len(distinct)} items exceed the layout's {layout.max_items}")
    for item in distinct:
        if len(item) > layout.max_item_bytes:
            raise ItemTooLong(f"an item of {len(item)} bytes exceeds {layout.max_item_bytes}")
    return distinct


def encode_counts(items: Sequence[bytes], layout: ThresholdLayout, key: bytes) -> UIntArray:
    """One client's pass-1 vector (a client counts once per distinct item).

    Raises:
        ItemTooLong, AggregationError: as :func:`~fical_secure.aggregate.anonymous.encode_items`.
    """
    grid = np.zeros((layout.tables * layout.buckets, 3), dtype=np.uint64)
    for item in _distinct(items, layout):
        flat, fp = _hashes(item, key, layout)
        for index in flat:
            grid[index] = (grid[index] + np.array([1, fp, fp * fp % WORD], np.uint64)) % WORD
    return grid.reshape(-1).astype(np.uint32)


@dataclass(frozen=True)
class Selection:
    """The public outcome of pass 1: the buckets that reached k, in index order."""

    key: bytes  # the pass-1 bucket key
    cells: tuple[tuple[int, int, int], ...]  # (flat index, count, fingerprint sum)
    forged: int = 0  # buckets refused with a count no honest sum can have

    def encode(self) -> bytes:
        return self.key + b"".join(_CELL.pack(*c) for c in self.cells)

    @classmethod
    def decode(cls, data: bytes) -> Selection:
        """Raises: AggregationError: malformed bytes."""
        body = data[32:]
        if len(data) < 32 or len(body) % _CELL.size:
            raise AggregationError("a bucket selection is malformed")
        cells = tuple(_CELL.unpack_from(body, i) for i in range(0, len(body), _CELL.size))
        if any(a[0] >= b[0] for a, b in itertools.pairwise(cells)):
            raise AggregationError("a bucket selection is not in strictly increasing order")
        return cls(data[:32], cells)


def select_buckets(
    total: UIntArray, layout: ThresholdLayout, key: bytes, contributors: int
) -> Selection:
    """The pure buckets whose count is in ``k..contributors``, one per ``(count, fpsum)``.

    A count above ``contributors * max_items`` or wrapped negative is impossible
    for honest clients: counted in ``forged`` (and not selected).
    """
    if contributors < 1:
        raise ConfigError("contributors must be positive")
    grid = total.astype(np.int64).reshape(-1, 3) % WORD
    counts = np.where(grid[:, 0] >= WORD // 2, grid[:, 0] - WORD, grid[:, 0])
    # a client adds at most max_items to one bucket (one per distinct item); a count
    # above contributors is honest (several items) but never pure, so never selected
    forged = int(np.count_nonzero((counts > contributors * layout.max_items) | (counts < 0)))
    chosen = np.flatnonzero((counts >= layout.k) & (counts <= contributors))
    cells, seen = [], set()
    for i in chosen:
        count, fpsum, fp2sum = int(counts[i]), int(grid[i, 1]), int(grid[i, 2])
        if (fpsum * fpsum - count * fp2sum) % WORD or (count, fpsum) in seen:
            continue  # several items share it, or this item is selected in an earlier table
        seen.add((count, fpsum))
        cells.append((int(i), count, fpsum))
    return Selection(key, tuple(cells), forged)


def encode_entries(
    items: Sequence[bytes], layout: ThresholdLayout, selection: Selection
) -> UIntArray:
    """One client's pass-2 vector: each item in its first selected, pure bucket, if any.

    Raises:
        ItemTooLong, AggregationError: as :func:`encode_counts`.
    """
    slot = layout.slot
    where = {cell[0]: (n, cell[1], cell[2]) for n, cell in enumerate(selection.cells)}
    grid = np.zeros((len(selection.cells), slot.slot_words), dtype=np.int64)
    for item in _distinct(items, layout):
        flat, fp = _hashes(item, selection.key, layout)
        for index in flat:
            hit = where.get(index)
            # a selected count below k is not an honest selection: the client skips it
            if hit is not None and hit[1] >= layout.k and hit[2] == hit[1] * fp % WORD:
                grid[hit[0]] += item_cell(item, slot)
                break
    return grid.reshape(-1).astype(np.uint32)


@dataclass(frozen=True)
class Thresholded:
    """Items held by at least k of the contributors, with what was refused or dropped."""

    items: Counter[bytes]
    forged: tuple[SlotForgery, ...]  # counts above contributors, an item in two slots
    below_k: int  # slots whose count fell below k (dropouts between passes, inflated counts)
    collided: int  # non-empty slots that are not copies of one item


def decode_entries(
    total: UIntArray, layout: ThresholdLayout, selection: Selection, contributors: int
) -> Thresholded:
    """Pass 2's items with ``k <= count <= contributors``; everything else refused.

    A slot decoded below k is refused without its text being kept or logged.
    """
    slot = layout.slot
    grid = total.astype(np.int64).reshape(len(selection.cells), slot.slot_words) % WORD
    found: Counter[bytes] = Counter()
    forged: list[SlotForgery] = []
    seen: set[bytes] = set()
    below = collided = 0
    for n, (index, _count, _fpsum) in enumerate(selection.cells):
        if not np.any(grid[n]):
            continue
        hit = pure_cell(grid[n], slot)
        if hit is None or index not in _hashes(hit[0], selection.key, layout)[0]:
            collided += 1
            continue
        item, count = hit
        if not 1 <= count <= contributors or item in seen:
            forged.append(
                SlotForgery(
                    f"a slot decoded with count {count} from {contributors} contributors, or an"
                    " item in two slots: a client forged its vector; the item is refused"
                )
            )
            found.pop(item, None)
        elif count < layout.k:
            below += 1
        else:
            found[item] = count
        seen.add(item)
    return Thresholded(found, tuple(forged), below, collided)
