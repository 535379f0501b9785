"""fical_secure.aggregate"""
