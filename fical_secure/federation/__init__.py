"""One FICAL round as a sequence of stages (data, KCG, privacy gates, transport, aggregation, TLU)."""
