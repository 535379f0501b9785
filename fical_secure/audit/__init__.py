"""fical_secure.audit"""
