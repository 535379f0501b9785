"""fical_secure.kcg: the knowledge compendium (schema.py) and its generation (knowledge.py).

Kept free of imports so that importing ``fical_secure.kcg.schema`` stays light.
"""
