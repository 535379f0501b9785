"""A client's share dealing and share opening (stages 2 and 3 of the client).

Dealing splits the self-mask seed and the mask key among the closed
neighbourhood that advertised keys, commits to every share (bound to round,
dealer, holder and secret) and seals each share pair to its holder's
per-round encryption key with the existing envelope. Opening checks that
each envelope comes from a neighbour, once, names this holder and index, and
is signed by the dealer's enrolled identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fical_secure.crypto import shamir
from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.envelope import open_envelope, read_header, seal
from fical_secure.crypto.identity import IdentityKey, RoundKey, key_id_of
from fical_secure.errors import SecAggRefusal
from fical_secure.protocol.secagg import common
from fical_secure.protocol.secagg.messages import ShareKeys, SharePayload
from fical_secure.protocol.secagg.params import SecAggParams
from fical_secure.protocol.secagg.peers import PeerKeys

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
    envelopes: tuple[bytes, ...],
    encryption: RoundKey,
    roster: Roster,
    peers: Mapping[int, PeerKeys],
    held: Held,
) -> None:
    """Open every share envelope dealt to this client into ``held``.

    Raises:
        SecAggRefusal: a share from a non-neighbour, a second one from one dealer,
            or one naming another dealer, holder or index.
        InvalidEnvelope: a forged, tampered or misrouted envelope.
    """
    p, ctx = seat.params, common.share_envelope_context(seat.round_id, seat.config_hash)
    for blob in envelopes:
        dealer = read_header(blob).sender_key_id  # authenticated by open_envelope below
        j = p.index.get(dealer)
        if j is None or j not in p.neighbours(seat.me) or j not in peers:
            raise SecAggRefusal("a share came from a client that is not a neighbour")
        if j in held:
            raise SecAggRefusal("two shares came from one dealer")
        plain = open_envelope(
            blob, recipient=encryption, sender_public=roster.lookup(dealer), context=ctx
        )
        payload = SharePayload.decode(plain)
        if (payload.dealer_id, payload.holder_id, payload.x) != (dealer, seat.key_id, seat.me + 1):
            raise SecAggRefusal("a share envelope names another dealer, holder or index")
        held[j] = (
            shamir.Share(payload.x, payload.self_share),
            shamir.Share(payload.x, payload.mask_share),
        )
