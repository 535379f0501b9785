"""fical_secure.crypto"""
