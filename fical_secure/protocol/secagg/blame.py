"""Which dealers the holders blame for spoiled shares, and which holders blame too many.

A holder that cannot open or verify a dealer's signed shares names that
dealer in its masked input (:class:`~.messages.MaskedInput` ``blamed``). The
server cannot check a blame (it cannot open the envelope), so it bounds
them: an honest holder meets at most ``tolerated_corruptions`` spoiling
dealers in its neighbourhood, and a holder blaming more (or blaming a
client that dealt it nothing) is dropped itself, its blames ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from fical_secure.errors import DealerBlamed, SecAggRefusal
from fical_secure.protocol.secagg.messages import MaskedInput, ShareKeys
from fical_secure.protocol.secagg.params import SecAggParams
from fical_secure.protocol.secagg.unmasking import Refuse


def sort_blames(
    params: SecAggParams,
    shares: Mapping[int, ShareKeys],
    accepted: Mapping[int, MaskedInput],
    refuse: Refuse,
) -> tuple[dict[int, frozenset[int]], frozenset[int]]:
    """(blamed dealer -> the holders that blame it, holders dropped for their blames).

    Each counted blame is refused naming the dealer (:class:`DealerBlamed`);
    each dropped accuser is refused naming itself.
    """
    p, out, accusers = params, dict[int, set[int]](), set[int]()
    for h, msg in sorted(accepted.items()):
        holder = p.participants[h]
        valid = [
            p.index[d]
            for d in msg.blamed
            if d in p.index and p.index[d] in shares and holder in shares[p.index[d]].holders
        ]
        if len(set(valid)) != len(msg.blamed) or len(valid) > p.tolerated_corruptions:
            accusers.add(h)
            refuse(
                holder,
                SecAggRefusal(
                    f"holder {h} blamed {len(msg.blamed)} dealers (a neighbourhood tolerates"
                    f" {p.tolerated_corruptions} corrupt): the holder is dropped instead"
                ),
            )
            continue
        for j in valid:
            out.setdefault(j, set()).add(h)
            refuse(
                p.participants[j],
                DealerBlamed(
                    f"holder {h} could not open or verify the shares dealer {j} signed"
                    " for it: the dealer is dropped from the round"
                ),
            )
    return {j: frozenset(hs) for j, hs in out.items()}, frozenset(accusers)
