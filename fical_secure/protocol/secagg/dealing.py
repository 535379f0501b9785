"""A client's share dealing and share opening (stages 2 and 3 of the client).

Dealing splits the self-mask seed and the mask key among the closed
neighbourhood that advertised keys, commits to every share (bound to round,
dealer, holder and secret) and seals each share pair to its holder's
per-round encryption key with the existing envelope. Opening reads each
neighbour's dealer-signed message once, opens the envelope for this holder
and checks its shares against the dealer's signed commitments; a dealer
whose shares fail is dropped by this holder (and blamed), not the round.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from fical_secure.crypto import shamir
from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.envelope import open_envelope, seal
from fical_secure.crypto.identity import IdentityKey, RoundKey, key_id_of
from fical_secure.errors import InvalidEnvelope, InvalidShare, MessageFormatError, SecAggRefusal
from fical_secure.protocol.secagg import common
from fical_secure.protocol.secagg.messages import ShareKeys, SharePayload
from fical_secure.protocol.secagg.params import SecAggParams
from fical_secure.protocol.secagg.peers import PeerKeys

log = logging.getLogger(__name__)
Held = dict[int, tuple[shamir.Share, shamir.Share]]  # dealer -> (self-seed share, mask share)


@dataclass(frozen=True)
class Seat:
    """One client's place in one round."""

    params: SecAggParams
    me: int
    key_id: bytes
    round_id: int
    config_hash: bytes


def _commit(seat: Seat, share: shamir.Share, holder: bytes, secret: bytes) -> bytes:
    ctx = common.share_context(seat.config_hash, seat.key_id, holder, secret)
    return shamir.commit_share(share, ctx)


def deal(
    seat: Seat,
    identity: IdentityKey,
    peers: Mapping[int, PeerKeys],
    seed: bytes,
    mask_private: bytes,
) -> tuple[ShareKeys, Held]:
    """The unsigned ShareKeys message and the dealer's own share pair.

    Raises:
        KeyMisuseError: fewer holders than the threshold (callers check first).
    """
    p = seat.params
    holders = sorted(p.closed(seat.me) & peers.keys())
    shares = shamir.split([seed, mask_private], [h + 1 for h in holders], p.threshold)
    ctx = common.share_envelope_context(seat.round_id, seat.config_hash)
    envelopes, selfc, maskc, held = [], [], [], {}
    for pos, h in enumerate(holders):
        holder_id = p.participants[h]
        s_self, s_mask = shares[0][pos], shares[1][pos]
        selfc.append(_commit(seat, s_self, holder_id, common.SELF_SECRET))
        maskc.append(_commit(seat, s_mask, holder_id, common.MASK_SECRET))
        if h == seat.me:
            held[h] = (s_self, s_mask)
            envelopes.append(b"")
            continue
        payload = SharePayload(seat.key_id, holder_id, h + 1, s_self.y, s_mask.y).encode()
        peer = peers[h].encryption_public
        envelopes.append(
            seal(
                payload,
                sender=identity,
                recipient_public=peer,
                recipient_key_id=key_id_of(peer),
                context=ctx,
            )
        )
    msg = ShareKeys(
        seat.round_id,
        seat.config_hash,
        seat.key_id,
        tuple(p.participants[h] for h in holders),
        tuple(envelopes),
        tuple(selfc),
        tuple(maskc),
        shamir.commit_secret(seed, common.seed_context(seat.config_hash, seat.key_id)),
    )
    return msg, held


def open_bundle(
    seat: Seat,
    dealt: tuple[bytes, ...],
    encryption: RoundKey,
    roster: Roster,
    peers: Mapping[int, PeerKeys],
    held: Held,
) -> frozenset[int]:
    """Open this holder's shares from each dealer-signed ShareKeys into ``held``.

    Returns the dealers this holder blames: their signed message carries an
    envelope for this holder that does not open, names another dealer, holder
    or index, or holds shares that fail the dealer's own signed commitments.
    Each is the dealer's fault alone (the server cannot alter a signed
    message), so the holder drops that dealer instead of aborting the round.

    Raises:
        SecAggRefusal: a message from a non-neighbour, a second one from one
            dealer, or one not addressed to this holder (the server misrouted it).
        MessageFormatError, WrongRoundError, InvalidSignature: a message the
            dealer did not sign for this round (the server forged or broke it).
    """
    p = seat.params
    blamed: set[int] = set()
    for blob in dealt:
        msg = ShareKeys.decode(blob)
        msg.check_round(seat.round_id, seat.config_hash)
        j = p.index.get(msg.signer_id)
        if j is None or j not in p.neighbours(seat.me) or j not in peers:
            raise SecAggRefusal("a share came from a client that is not a neighbour")
        if j in held or j in blamed:
            raise SecAggRefusal("two shares came from one dealer")
        msg.verify(roster.lookup(msg.signer_id))
        if seat.key_id not in msg.holders:
            raise SecAggRefusal("the server relayed shares dealt to another holder")
        try:
            held[j] = _open_one(seat, msg, encryption, roster)
        except (InvalidEnvelope, InvalidShare, MessageFormatError, SecAggRefusal) as exc:
            log.warning("dealer %s: its shares for this holder fail (%s); dropping it", j, exc)
            blamed.add(j)
    return frozenset(blamed)


def _open_one(
    seat: Seat, msg: ShareKeys, encryption: RoundKey, roster: Roster
) -> tuple[shamir.Share, shamir.Share]:
    """This holder's share pair from one dealer's message, checked against its commitments."""
    pos = msg.holders.index(seat.key_id)
    ctx = common.share_envelope_context(seat.round_id, seat.config_hash)
    plain = open_envelope(
        msg.envelopes[pos],
        recipient=encryption,
        sender_public=roster.lookup(msg.signer_id),
        context=ctx,
    )
    payload = SharePayload.decode(plain)
    if (payload.dealer_id, payload.holder_id, payload.x) != (
        msg.signer_id,
        seat.key_id,
        seat.me + 1,
    ):
        raise SecAggRefusal("a share envelope names another dealer, holder or index")
    pair = (
        shamir.Share(payload.x, payload.self_share),
        shamir.Share(payload.x, payload.mask_share),
    )
    for share, secret, commitments in (
        (pair[0], common.SELF_SECRET, msg.self_commitments),
        (pair[1], common.MASK_SECRET, msg.mask_commitments),
    ):
        context = common.share_context(seat.config_hash, msg.signer_id, seat.key_id, secret)
        shamir.verify_share(share, context, commitments[pos])
    return pair
