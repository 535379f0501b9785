"""The server's last step: remove every mask from the sum of the survivors' inputs.

For each survivor ``j`` the self-mask seed is rebuilt from ``threshold``
shares its neighbours revealed; for each client that shared keys but sent no
input, the mask key is rebuilt and the pairwise masks its surviving
neighbours added are cancelled. Every share is checked against its dealer's
commitment first (a bad one is refused and skipped), every reconstructed
secret against its commitment or advertised public key, so a tampered share
can make the round abort but never produce a wrong sum.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from fical_secure.crypto import shamir
from fical_secure.crypto.masking import MaskAccumulator, MaskKey, MaskKind
from fical_secure.errors import FicalError, InvalidShare, SecAggAbort, SecAggRefusal
from fical_secure.protocol.secagg import common
from fical_secure.protocol.secagg.messages import ShareKeys, UnmaskShares
from fical_secure.protocol.secagg.params import SecAggParams
from fical_secure.protocol.secagg.peers import PeerKeys

Refuse = Callable[[bytes | None, FicalError], None]


def _collect(
    params: SecAggParams,
    config_hash: bytes,
    shares: Mapping[int, ShareKeys],
    revealed: Mapping[int, UnmaskShares],
    wanted: frozenset[int],
    secret: bytes,
    refuse: Refuse,
) -> dict[int, list[shamir.Share]]:
    """Valid revealed shares of ``secret`` for each dealer in ``wanted``."""
    out: dict[int, list[shamir.Share]] = {j: [] for j in wanted}
    for h, msg in sorted(revealed.items()):
        holder = params.participants[h]
        pairs = (
            zip(msg.self_dealers, msg.self_shares, strict=True)
            if secret == common.SELF_SECRET
            else zip(msg.mask_dealers, msg.mask_shares, strict=True)
        )
        for dealer, y in pairs:
            j = params.index.get(dealer)
            try:
                if j is None or j not in wanted or holder not in shares[j].holders:
                    raise SecAggRefusal("a revealed share for a client not asked about")
                position = shares[j].holders.index(holder)
                commitments = (
                    shares[j].self_commitments
                    if secret == common.SELF_SECRET
                    else shares[j].mask_commitments
                )
                share = shamir.Share(h + 1, y)
                ctx = common.share_context(config_hash, dealer, holder, secret)
                shamir.verify_share(share, ctx, commitments[position])
            except (FicalError, ValueError) as exc:
                err = exc if isinstance(exc, FicalError) else InvalidShare(str(exc))
                refuse(holder, err)
                continue
            out[j].append(share)
    return out


def _rebuild(
    params: SecAggParams,
    config_hash: bytes,
    dealer: int,
    msg: ShareKeys,
    points: list[shamir.Share],
    secret: bytes,
) -> bytes:
    t = params.threshold
    if len(points) < t:
        raise SecAggAbort(
            f"client {dealer} has {len(points)} valid shares of its {secret.decode()}, threshold"
            f" {t}: round aborted"
        )
    did = params.participants[dealer]
    contexts, commitments = {}, {}
    for pos, holder in enumerate(msg.holders):
        x = params.index[holder] + 1
        contexts[x] = common.share_context(config_hash, did, holder, secret)
        commitments[x] = (
            msg.self_commitments if secret == common.SELF_SECRET else msg.mask_commitments
        )[pos]
    try:
        return shamir.combine(
            points,
            threshold=t,
            secret_len=common.SECRET_SIZE,
            contexts=contexts,
            commitments=commitments,
        )
    except InvalidShare as exc:
        raise SecAggAbort(f"client {dealer}'s shares are inconsistent: {exc}") from None


def unmask_sum(
    params: SecAggParams,
    config_hash: bytes,
    peers: Mapping[int, PeerKeys],
    shares: Mapping[int, ShareKeys],
    acc: MaskAccumulator,
    alive: frozenset[int],
    revealed: Mapping[int, UnmaskShares],
    refuse: Refuse,
    unpaired: Mapping[int, frozenset[int]],
) -> npt.NDArray[np.unsignedinteger]:
    """The sum modulo 2^bits of the survivors' inputs, from the sum of their masked inputs.

    ``unpaired[j]``: the holders that blamed dropped dealer ``j`` and so never
    added a pairwise mask with it; only the other survivors' masks are cancelled
    (none left: nothing to rebuild), from ``j``'s rebuilt mask key or, when fewer
    than ``threshold`` holders accepted a blamed dealer, from the seeds the
    survivors revealed.

    Raises:
        SecAggAbort: a secret lacks ``threshold`` valid shares or fails its commitment.
    """
    dropped = frozenset(shares) - alive
    self_points = _collect(params, config_hash, shares, revealed, alive, common.SELF_SECRET, refuse)
    mask_points = _collect(
        params, config_hash, shares, revealed, dropped, common.MASK_SECRET, refuse
    )
    for j in sorted(alive):
        seed = _rebuild(params, config_hash, j, shares[j], self_points[j], common.SELF_SECRET)
        expected = shares[j].seed_commitment
        if (
            shamir.commit_secret(seed, common.seed_context(config_hash, params.participants[j]))
            != expected
        ):
            raise SecAggAbort(f"client {j}'s self-mask seed does not match its commitment")
        acc.subtract(seed, MaskKind.SELF)
    for j in sorted(dropped):
        paired = frozenset(alive & params.neighbours(j) - unpaired.get(j, frozenset()))
        if not paired:
            continue
        if j in unpaired and len(mask_points[j]) < params.threshold:
            seeds = _pair_seeds(params, revealed, j, paired)
        else:
            raw = _rebuild(params, config_hash, j, shares[j], mask_points[j], common.MASK_SECRET)
            try:
                key = MaskKey.from_reconstructed(raw, peers[j].mask_public)
            except InvalidShare as exc:
                raise SecAggAbort(f"client {j}'s mask key: {exc}") from None
            seeds = {i: key.pairwise_seed(peers[i].mask_public, config_hash) for i in paired}
        for i in sorted(paired):
            if common.adds_pairwise(i, j):
                acc.subtract(seeds[i], MaskKind.PAIRWISE)
            else:
                acc.add(seeds[i], MaskKind.PAIRWISE)
    return acc.reduced()


def _pair_seeds(
    params: SecAggParams,
    revealed: Mapping[int, UnmaskShares],
    dealer: int,
    paired: frozenset[int],
) -> dict[int, bytes]:
    """Each survivor's revealed pairwise seed with a blamed, dropped dealer.

    Used when too few holders accepted the dealer's shares to rebuild its mask
    key: each survivor that masked with it reveals that one seed instead (the
    dealer is dropped, so this tells no more than its mask key would).

    Raises:
        SecAggAbort: a survivor that masked with the dealer revealed no such seed.
    """
    did, out = params.participants[dealer], {}
    for i in sorted(paired):
        msg = revealed.get(i)
        found = dict(zip(msg.pair_peers, msg.pair_seeds, strict=True)) if msg else {}
        seed = found.get(did)
        if seed is None or len(seed) != common.SECRET_SIZE:
            raise SecAggAbort(
                f"dealer {dealer} was blamed, too few holders accepted its shares, and"
                f" survivor {i} revealed no pairwise seed with it: round aborted"
            )
        out[i] = seed
    return out
