"""fical_secure.data"""
