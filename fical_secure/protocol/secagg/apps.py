"""What runs on top of secure aggregation in numbers: weighted FedAvg.

It only chooses what vector each client sums; the protocol is the same. The
anonymous multiset of compendium items (the secure-aggregation round of the
pipeline) is gathered in :mod:`fical_secure.pipeline.multiset` and driven by
:class:`fical_secure.pipeline.secagg_round.SecAggRound`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from fical_secure.aggregate.fixedpoint import FixedPoint
from fical_secure.protocol.secagg.driver import Federation, RoundOutcome, run_secagg_round


def secure_fedavg(
    vectors: Mapping[bytes, npt.NDArray[np.floating]],
    weights: Mapping[bytes, int],
    fixed: FixedPoint,
    federation: Federation,
    *,
    dropouts: Mapping[int, set[bytes]] | None = None,
) -> tuple[npt.NDArray[np.floating], RoundOutcome]:
    """The weighted mean of the survivors' clipped vectors; the server sees only the sum.

    Raises:
        QuantizationError: a bad vector or weight (before anything is sent).
        SecAggAbort: too few clients survived.
    """
    inputs = {cid: fixed.encode(vec, weights[cid]) for cid, vec in vectors.items()}
    outcome = run_secagg_round(federation, inputs, dropouts=dropouts)
    return fixed.decode_mean(outcome.total), outcome
