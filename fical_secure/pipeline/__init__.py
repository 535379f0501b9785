"""One FICAL round as a sequence of stages.

Data, KCG, privacy gates, transport, aggregation, publication, TLU. Each
mode's round is one workflow object over a carrier seam (``carrier.py``):
``sealed_round.SealedRound`` and ``secagg_round.SecAggRound``, driven in
process by ``transport.py`` and over Flower by ``fical_secure.flower``.
"""
