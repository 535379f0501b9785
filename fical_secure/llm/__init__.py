"""fical_secure.llm"""
