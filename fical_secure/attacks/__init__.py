"""fical_secure.attacks"""
