"""fical_secure.tlu"""
