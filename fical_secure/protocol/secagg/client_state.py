"""The round secrets of a :class:`~.client.SecAggClient` as JSON fields, and back.

Split from the client so the state machine stays one module; only
``SecAggClient.export_state`` / ``restore`` call these (they reach the
client's private attributes on its behalf).
"""

from __future__ import annotations

from typing import Any

from fical_secure.crypto import shamir
from fical_secure.crypto.identity import RoundKey
from fical_secure.crypto.masking import MaskKey
from fical_secure.crypto.primitives import x25519_public_from_private
from fical_secure.protocol.secagg.peers import PeerKeys


def secrets_to_json(client: Any) -> dict[str, Any]:
    """Keys, peers, seed, held shares and masking choices the client holds now."""
    state: dict[str, Any] = {}
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


def secrets_from_json(client: Any, raw: dict[str, Any]) -> None:
    """Set what :func:`secrets_to_json` wrote back on ``client``.

    Raises:
        KeyError, TypeError, ValueError: a malformed state (the caller translates).
    """
    if "enc" in raw:
        client._enc = RoundKey._from_private_bytes(bytes.fromhex(raw["enc"]))
        private = bytes.fromhex(raw["mask"])
        client._mask = MaskKey(private, x25519_public_from_private(private))
    if "peers" in raw:
        client._peers = {
            int(j): PeerKeys(bytes.fromhex(e), bytes.fromhex(m))
            for j, (e, m) in raw["peers"].items()
        }
    if "seed" in raw:
        client._seed = bytes.fromhex(raw["seed"])
    if "held" in raw:
        client._held = {
            int(j): (
                shamir.Share(int(x), bytes.fromhex(a)),
                shamir.Share(int(x), bytes.fromhex(b)),
            )
            for j, (x, a, b) in raw["held"].items()
        }
    if "masked_with" in raw:
        client._masked_with = frozenset(int(j) for j in raw["masked_with"])
        client._blamed = frozenset(int(j) for j in raw["blamed"])
