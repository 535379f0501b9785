"""fical_secure.commands"""
