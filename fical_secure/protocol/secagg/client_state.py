"""The round secrets of a :class:`~.client.SecAggClient` as JSON fields, and back.

Split from the client so the state machine stays one module; only
``SecAggClient.export_state`` / ``restore`` call these (they reach the
client's private attributes on its behalf).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from fical_secure.crypto import shamir
from fical_secure.crypto.identity import RoundKey
from fical_secure.crypto.masking import MaskKey
from fical_secure.crypto.primitives import x25519_public_from_private
from fical_secure.jsontypes import JsonObject, JsonValue
from fical_secure.protocol.secagg.dealing import Held
from fical_secure.protocol.secagg.peers import PeerKeys


class RoundSecrets(Protocol):
    """The secrets a :class:`~.client.SecAggClient` holds mid-round (each set by a stage)."""

    _enc: RoundKey
    _mask: MaskKey
    _peers: dict[int, PeerKeys]
    _seed: bytes
    _held: Held
    _masked_with: frozenset[int]
    _blamed: frozenset[int]


def secrets_to_json(client: RoundSecrets) -> JsonObject:
    """Keys, peers, seed, held shares and masking choices the client holds now."""
    state: JsonObject = {}
    if hasattr(client, "_enc"):
        state["enc"] = client._enc.export_private_bytes(
            i_understand_this_exposes_the_key=True
        ).hex()
        state["mask"] = client._mask.export_for_sharing().hex()
    if hasattr(client, "_peers"):
        state["peers"] = {
            str(j): [k.encryption_public.hex(), k.mask_public.hex()]
            for j, k in sorted(client._peers.items())
        }
    if hasattr(client, "_seed"):
        state["seed"] = client._seed.hex()
    if hasattr(client, "_held"):
        state["held"] = {
            str(j): [a.x, a.y.hex(), b.y.hex()] for j, (a, b) in sorted(client._held.items())
        }
    if hasattr(client, "_masked_with"):
        state["masked_with"] = sorted(client._masked_with)
        state["blamed"] = sorted(client._blamed)
    return state


def _hex(value: JsonValue) -> bytes:
    if not isinstance(value, str):
        raise TypeError("expected a hex string")
    return bytes.fromhex(value)


def _int(value: JsonValue) -> int:
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise TypeError("expected an integer")
    return int(value)


def _by_seat(value: JsonValue, width: int) -> Iterator[tuple[int, Sequence[JsonValue]]]:
    """The ``{"seat": [width values]}`` objects this module writes, seat by seat."""
    if not isinstance(value, dict):
        raise TypeError("expected an object keyed by seat")
    for seat, row in value.items():
        if not isinstance(row, list) or len(row) != width:
            raise ValueError(f"expected {width} values for seat {seat}")
        yield int(seat), row


def _seats(value: JsonValue) -> frozenset[int]:
    if not isinstance(value, list):
        raise TypeError("expected a list of seats")
    return frozenset(_int(j) for j in value)


def secrets_from_json(client: RoundSecrets, raw: JsonObject) -> None:
    """Set what :func:`secrets_to_json` wrote back on ``client``.

    Raises:
        KeyError, TypeError, ValueError: a malformed state (the caller translates).
    """
    if "enc" in raw:
        client._enc = RoundKey._from_private_bytes(_hex(raw["enc"]))
        private = _hex(raw["mask"])
        client._mask = MaskKey(private, x25519_public_from_private(private))
    if "peers" in raw:
        client._peers = {j: PeerKeys(_hex(e), _hex(m)) for j, (e, m) in _by_seat(raw["peers"], 2)}
    if "seed" in raw:
        client._seed = _hex(raw["seed"])
    if "held" in raw:
        client._held = {
            j: (shamir.Share(_int(x), _hex(a)), shamir.Share(_int(x), _hex(b)))
            for j, (x, a, b) in _by_seat(raw["held"], 3)
        }
    if "masked_with" in raw:
        client._masked_with = _seats(raw["masked_with"])
        client._blamed = _seats(raw["blamed"])
