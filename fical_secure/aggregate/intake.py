"""What the server accepts into aggregation: the server, not the payload, says who wrote what.

Each authenticated plaintext arrives with the key id that signed its envelope.
Here it becomes a compendium whose ``owner`` is the name the server's
enrollment gives that key (never the payload's own claim), whose entries carry
no client-claimed ``support`` (aggregation counts distinct contributors
itself), and which is decoded within bounds. A payload that fails is rejected
with its reason and its sender excluded; the others proceed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from fical_secure.errors import SchemaError
from fical_secure.kcg.schema import Compendium

log = logging.getLogger(__name__)

GLOBAL_OWNER = "global"  # reserved for the server's aggregate; no client may be named so


@dataclass
class Intake:
    """The outcome of decoding one round's authenticated payloads."""

    accepted: list[Compendium] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # owner -> reason


def check_owner_names(owners: Mapping[bytes, str]) -> None:
    """Enrollment names are unique, non-empty, and never the reserved ``global``.

    Raises:
        SchemaError: a name is empty, reserved, or used for two keys.
    """
    names = list(owners.values())
    if any(not n or n.casefold() == GLOBAL_OWNER for n in names):
        raise SchemaError(f"client names must be non-empty and not {GLOBAL_OWNER!r}")
    if len(set(names)) != len(names):
        raise SchemaError("two enrolled keys share one client name")


def attribute(plaintext: bytes, owner: str) -> Compendium:
    """Decode one authenticated payload (bounded) and attribute it to ``owner``.

    Raises:
        SchemaError: the payload is not an acceptable compendium.
    """
    compendium = Compendium.from_json(plaintext)
    entries = tuple(replace(e, support=1) for e in compendium.entries)
    return replace(compendium, owner=owner, entries=entries)


def accept_payloads(payloads: Sequence[tuple[bytes, bytes]], owners: Mapping[bytes, str]) -> Intake:
    """``(sender_key_id, plaintext)`` pairs -> attributed compendiums, bad ones rejected.

    A sender the mapping does not name is named by its key id (hex).

    Raises:
        SchemaError: the owner mapping itself is invalid (see :func:`check_owner_names`).
    """
    check_owner_names(owners)
    intake = Intake()
    for sender, plaintext in payloads:
        owner = owners.get(sender, sender.hex())
        try:
            intake.accepted.append(attribute(plaintext, owner))
        except SchemaError as exc:
            log.warning("payload from %s rejected: %s", owner, exc)
            intake.rejected[owner] = str(exc)
    return intake
