"""Anonymous multisets through a sum: items hashed into slots of a long vector.

Each client writes each of its items (a compendium entry as canonical bytes)
into one slot of each of ``tables`` independent sub-vectors, the slot chosen
by a keyed hash of the item (key fresh per round); a slot holds ``count ||
length || payload || checksum`` words, ``b`` bytes per word. The vectors of
all clients are summed with secure aggregation, so the server sees only the
sum. Copies of one item land in the same slots and add up (``count`` is its
support, from the aggregate, never from a client's claim); a slot where
different items collide fails its checksum. Masking is additive, so one
client can add any vector: a decoded count above the number of contributors,
or below one, is refused as forged (:class:`SlotForgery`); a count within
``1..contributors``, and an item erased by subtracting exactly its copies,
cannot be told from honest sums (see threat_models/malicious-client.md).

Decoding peels (as an invertible Bloom lookup table): a slot holding one
item (checksum and slot hash agree) yields it with its count, which is then
subtracted from its other slots, freeing further slots. If anything is left,
the collision is detected and the caller retries with a fresh key
(:class:`ResidualCollision`).

Length: ``tables`` sub-vectors of ``m`` slots with ``m >= 2 * D / tables`` for
``D`` = clients x entries per client (well above the ~1.23 D peeling
threshold of 3 tables), and large enough that two items sharing all their
slots, the smallest unpeelable pattern, has probability below the stated
``collision_probability``: about ``D^2 / (2 m^3)``.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fical_secure.errors import AggregationError, ConfigError, SlotForgery

log = logging.getLogger(__name__)
CHECK_BYTES = 16
WORD = 1 << 32
UIntArray = npt.NDArray[np.unsignedinteger]


class ResidualCollision(AggregationError):
    """Slots still hold colliding items after peeling: retry with a fresh key."""


class ItemTooLong(AggregationError):
    """An item is longer than the configured slot payload."""


@dataclass(frozen=True)
class SlotLayout:
    """Geometry of the slot vector: agreed by every client and the server."""

    n_clients: int
    max_items: int  # per client
    max_item_bytes: int
    collision_probability: float = 1e-3
    tables: int = 3
    bits: int = 32

    def __post_init__(self) -> None:
        if self.n_clients < 1 or self.max_items < 1 or self.max_item_bytes < 1:
            raise ConfigError("n_clients, max_items and max_item_bytes must be positive")
        if not 0 < self.collision_probability < 1 or not 2 <= self.tables <= 8:
            raise ConfigError("collision_probability in (0, 1) and tables in 2..8")
        if self.bits != 32:
            raise ConfigError("slot vectors use 32-bit words")
        if self.byte_width < 1:
            raise ConfigError(
                f"{self.copies} copies could wrap a 32-bit slot word: fewer clients or items"
            )

    @property
    def copies(self) -> int:
        """Most copies that can land in one slot (every item of every client)."""
        return self.n_clients * self.max_items

    @property
    def byte_width(self) -> int:
        """Payload bytes per word, so that ``copies * (2^(8b) - 1) < 2^32``."""
        for b in (3, 2, 1):
            if self.copies * ((1 << (8 * b)) - 1) < 1 << 32:
                return b
        return 0

    @property
    def slots_per_table(self) -> int:
        """``m`` (see the module docstring)."""
        d = self.copies
        peel = math.ceil(2 * d / self.tables) + 8
        pair = math.ceil(math.pow(d * d / (2 * self.collision_probability), 1.0 / self.tables))
        return max(peel, pair)

    @property
    def slot_words(self) -> int:
        """Words per slot: count, length, payload, checksum."""
        b = self.byte_width
        return 2 + -(-self.max_item_bytes // b) + -(-CHECK_BYTES // b)

    @property
    def length(self) -> int:
        """Words in the whole vector (the secure-aggregation input length)."""
        return self.tables * self.slots_per_table * self.slot_words


def _checksum(item: bytes) -> bytes:
    return hashlib.sha256(b"fical-secure/v1/slot-checksum\x00" + item).digest()[:CHECK_BYTES]


def _positions(item: bytes, key: bytes, layout: SlotLayout) -> list[int]:
    digest = hashlib.sha256(b"fical-secure/v1/slot-position\x00" + key + item).digest()
    m = layout.slots_per_table
    return [int.from_bytes(digest[4 * t : 4 * t + 4], "big") % m for t in range(layout.tables)]


def _words(data: bytes, b: int) -> npt.NDArray[np.int64]:
    padded = data + bytes(-len(data) % b)
    raw = np.frombuffer(padded, dtype=np.uint8).reshape(-1, b).astype(np.int64)
    out = np.zeros(raw.shape[0], dtype=np.int64)
    for col in range(b):
        out = (out << 8) | raw[:, col]
    return out


def item_cell(item: bytes, layout: SlotLayout) -> npt.NDArray[np.int64]:
    """One copy of ``item`` as a slot: count 1, length, payload words, checksum words."""
    b, cell = layout.byte_width, np.zeros(layout.slot_words, dtype=np.int64)
    cell[0], cell[1] = 1, len(item)
    body = _words(item, b)
    cell[2 : 2 + body.size] = body
    check = _words(_checksum(item), b)
    cell[layout.slot_words - check.size :] = check
    return cell


def round_slot_key(config_hash: bytes) -> bytes:
    """The slot key of one secure-aggregation round, from its server-signed config hash.

    Every client and the server derive the same key without it being sent,
    and a fresh config (fresh graph seed and time) gives a fresh key, so a
    retry after a collision re-draws every slot. The key need not be secret:
    the server sees only the sum, whatever the slots.
    """
    if len(config_hash) != 32:
        raise ConfigError("a config hash is 32 bytes")
    return hashlib.sha256(b"fical-secure/v1/slot-key\x00" + config_hash).digest()


def encode_items(items: Sequence[bytes], layout: SlotLayout, key: bytes) -> UIntArray:
    """One client's slot vector. Duplicate items are written once (a client counts once).

    Raises:
        ItemTooLong: an item exceeds ``max_item_bytes`` (the client drops and reports it).
        AggregationError: more than ``max_items`` distinct items.
    """
    distinct = sorted(set(items))
    if len(distinct) > layout.max_items:
        raise AggregationError(f"{len(distinct)} items exceed the layout's {layout.max_items}")
    grid = np.zeros((layout.tables, layout.slots_per_table, layout.slot_words), dtype=np.int64)
    for item in distinct:
        if len(item) > layout.max_item_bytes:
            raise ItemTooLong(f"an item of {len(item)} bytes exceeds {layout.max_item_bytes}")
        cell = item_cell(item, layout)
        for t, pos in enumerate(_positions(item, key, layout)):
            grid[t, pos] += cell
    return grid.reshape(-1).astype(np.uint32)


def _item_of(one: npt.NDArray[np.int64], layout: SlotLayout) -> bytes | None:
    """The item a single-copy cell encodes, if it is well formed and its checksum holds."""
    b, size = layout.byte_width, int(one[1])
    if int(one[0]) != 1 or not 0 <= size <= layout.max_item_bytes or np.any(one[2:] >> (8 * b)):
        return None
    shifts = np.arange(8 * (b - 1), -1, -8, dtype=np.int64)
    raw = ((one[2:, None] >> shifts) & 0xFF).astype(np.uint8).tobytes()
    body_words = -(-layout.max_item_bytes // b)
    item, check = raw[:size], raw[body_words * b : body_words * b + CHECK_BYTES]
    if any(raw[size : body_words * b]) or check != _checksum(item):
        return None
    return item


def pure_cell(cell: npt.NDArray[np.int64], layout: SlotLayout) -> tuple[bytes, int] | None:
    """(item, signed count) if the cell is ``count`` copies of one item modulo 2^32.

    Honest sums never wrap (see :attr:`SlotLayout.byte_width`) and divide
    exactly; a cell a client inflated past wrapping, or drove negative by
    subtracting copies, is divided modulo 2^32 instead, so it still decodes
    (and is refused as forged by the caller) rather than jamming the slot.
    """
    count = int(cell[0])
    if count == 0:
        return None
    if not np.any(cell % count):
        item = _item_of(cell // count, layout)
    else:
        item = _item_of(_divide_mod_word(cell, count), layout)
    if item is None:
        return None
    return item, count if count < WORD // 2 else count - WORD


def _divide_mod_word(cell: npt.NDArray[np.int64], count: int) -> npt.NDArray[np.int64]:
    """``cell / count`` modulo 2^32, exact for quotients below ``2^(32 - twos(count))``."""
    twos = (count & -count).bit_length() - 1
    if np.any(cell & ((1 << twos) - 1)):
        return np.zeros_like(cell)
    modulus = 1 << (32 - twos)
    inverse = np.uint64(pow(count >> twos, -1, modulus))
    shifted = (cell >> twos).astype(np.uint64)
    return ((shifted * inverse) & np.uint64(modulus - 1)).astype(np.int64)


@dataclass(frozen=True)
class DecodedMultiset:
    """The multiset honest clients could have written, and the slots refused as forged."""

    items: Counter[bytes]
    forged: tuple[SlotForgery, ...]


def decode_multiset(
    total: UIntArray, layout: SlotLayout, key: bytes, contributors: int
) -> DecodedMultiset:
    """The multiset of items (item -> number of clients that wrote it) from the sum.

    A client writes an item at most once, so an item decoded with a count
    outside ``1..contributors`` (inflated, or driven negative by subtraction)
    was forged: it is refused, named in ``forged`` and peeled out, and the
    other items still decode.

    Raises:
        ResidualCollision: colliding slots remain after peeling (retry with a new key).
    """
    if contributors < 1:
        raise ConfigError("contributors must be positive")
    grid = total.astype(np.int64).reshape(layout.tables, layout.slots_per_table, -1) % WORD
    found: Counter[bytes] = Counter()
    forged: list[SlotForgery] = []
    queue = [
        (t, p) for t in range(layout.tables) for p in range(layout.slots_per_table) if grid[t, p, 0]
    ]
    while queue:
        t, p = queue.pop()
        hit = pure_cell(grid[t, p], layout)
        if hit is None or _positions(hit[0], key, layout)[t] != p:
            continue
        item, count = hit
        if 1 <= count <= contributors:
            found[item] += count
        else:
            forged.append(
                SlotForgery(
                    f"an item decoded with count {count} from {contributors} contributors:"
                    " a client forged its slot vector; the item is refused"
                )
            )
        cell = item_cell(item, layout) * (count % WORD) % WORD
        for tt, pp in enumerate(_positions(item, key, layout)):
            grid[tt, pp] = (grid[tt, pp] - cell) % WORD
            if grid[tt, pp, 0]:
                queue.append((tt, pp))
    left = int(np.count_nonzero(grid[:, :, 0]))
    if left or np.any(grid):
        raise ResidualCollision(f"{left} slots still hold colliding items; retry with a new key")
    return DecodedMultiset(found, tuple(forged))


def decode_items(
    total: UIntArray, layout: SlotLayout, key: bytes, contributors: int | None = None
) -> Counter[bytes]:
    """:func:`decode_multiset`'s items; forged ones are logged and left out.

    ``contributors`` defaults to the layout's ``n_clients`` (pass the survivors).

    Raises:
        ResidualCollision: colliding slots remain after peeling (retry with a new key).
    """
    decoded = decode_multiset(total, layout, key, contributors or layout.n_clients)
    for refusal in decoded.forged:
        log.warning("anonymous aggregation: %s", refusal)
    return decoded.items
