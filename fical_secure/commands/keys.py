"""``fical-secure keys``: create a party's key files and show their key ids.

``keys new --out DIR`` writes ``DIR/private.key`` (mode 0600: Ed25519 identity
+ static X25519 encryption key) and ``DIR/public.key`` (what peers need, the
encryption key signed by the identity). Existing keys are never overwritten.
``keys show FILE`` prints the key ids of a ``public.key``, for operators to
compare out of band before trusting a peer's file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from fical_secure.crypto.keys import KeyBundle, PublicKeyBundle
from fical_secure.errors import KeyFileError

PRIVATE_NAME = "private.key"
PUBLIC_NAME = "public.key"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keys new`` and ``keys show`` to the command line."""
    parser = sub.add_parser("keys", help="create key files and show key ids")
    actions = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    new = actions.add_parser(
        "new", help="write DIR/private.key (0600) and DIR/public.key for a new party"
    )
    new.add_argument("--out", required=True, type=Path, metavar="DIR", help="key folder")
    new.set_defaults(func=run_new)
    show = actions.add_parser("show", help="print the key ids of a public.key file")
    show.add_argument("public_key", type=Path, metavar="FILE", help="a public.key file")
    show.set_defaults(func=run_show)


def run_new(args: argparse.Namespace) -> int:
    """Generate and save a key bundle; prints the key ids on success.

    Raises:
        KeyFileError: the folder cannot be created, or a key file exists or
            cannot be written (no half-written pair is left behind).
    """

    out: Path = args.out
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"{out}: cannot create key folder: {exc.strerror}") from None
    private_path, public_path = out / PRIVATE_NAME, out / PUBLIC_NAME
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise KeyFileError(f"{path}: already exists; refusing to overwrite a key")
    bundle = KeyBundle.generate()
    bundle.save(private_path)
    try:
        bundle.public.save(public_path)
    except KeyFileError:
        # Never leave a private key whose public half was not written.
        with contextlib.suppress(OSError):
            os.unlink(private_path)
        raise
    print(f"identity key id:   {bundle.identity.key_id.hex()}")
    print(f"encryption key id: {bundle.encryption.key_id.hex()}")
    print(f"wrote {private_path} (keep secret) and {public_path} (give to peers)")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Load and verify a ``public.key``; print its key ids.

    Raises:
        KeyFileError: missing, malformed, or its binding signature is invalid.
    """

    bundle = PublicKeyBundle.load(args.public_key)
    print(f"identity key id:   {bundle.identity.key_id.hex()}")
    print(f"encryption key id: {bundle.encryption_key_id.hex()}")
    return 0
