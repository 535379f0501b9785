"""fical_secure.crypto: the only package that imports ``cryptography``.

``keys`` (identity keys, round keys, signed round key, roster, key bundles),
``envelope`` (seal / open), ``labels`` (every HKDF and signature label),
``primitives`` (typed wrappers over ``cryptography``), ``keyfile`` (key files
on disk), ``edwards`` (Ed25519 public-key validation). Importing it
pulls in no ML dependency.
"""
