"""Tool-learning and use (TLU): retrieval, agent, argument filling, environment, metrics.

Modules: ``embedding`` (MiniLM sentence vectors), ``index`` (faiss over the
global compendium + catalogue), ``args`` (arguments from request text),
``prompt`` (calibrated model scores), ``agent``, ``env`` (simulated tools),
``metrics``. Imported per module so that heavy dependencies load only when used.
"""
