"""fical_secure.kcg"""
