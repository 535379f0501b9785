"""Identity keys and enrollment: the names other packages import.

One import point for key holders (:mod:`fical_secure.crypto.identity`), the
server-signed round key and roster (:mod:`fical_secure.crypto.enrollment`) and
the operator's key files (:mod:`fical_secure.crypto.bundle`).
"""

from __future__ import annotations

from fical_secure.crypto.bundle import KeyBundle, PublicKeyBundle
from fical_secure.crypto.enrollment import Roster, SignedRoundKey
from fical_secure.crypto.identity import (
    KEY_ID_SIZE,
    IdentityKey,
    IdentityPublicKey,
    RoundKey,
    key_id_of,
)

__all__ = [
    "KEY_ID_SIZE",
    "IdentityKey",
    "IdentityPublicKey",
    "KeyBundle",
    "PublicKeyBundle",
    "Roster",
    "RoundKey",
    "SignedRoundKey",
    "key_id_of",
]
