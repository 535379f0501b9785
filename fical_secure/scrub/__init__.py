"""fical_secure.scrub"""
