"""One FICAL round as a sequence of stages.

Data, KCG, privacy gates, transport, aggregation, publication, TLU.
"""
