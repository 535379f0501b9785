"""fical_secure.protocol"""
