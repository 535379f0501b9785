"""``fical-secure seal`` and ``fical-secure open``: envelopes between two parties' key files.

    fical-secure seal --key A/private.key --to B/public.key --round N IN OUT
    fical-secure open --key B/private.key --from A/public.key --round N IN OUT

``seal`` encrypts IN to B's static encryption key and signs it with A's
identity; ``open`` checks A's signature and the context, then decrypts. Both
exit 0 on success; on any failure they exit non-zero with one line on stderr
and leave no OUT behind: OUT is written to a temporary file in its folder,
fsynced and linked into place only once complete, and an existing OUT is never
overwritten. Argument-syntax errors keep argparse's usage message (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from fical_secure.atomic import write_bytes_atomic
from fical_secure.crypto.envelope import (
    ENVELOPE_OVERHEAD,
    MAX_PAYLOAD_SIZE,
    EnvelopeContext,
    open_envelope,
    seal,
)
from fical_secure.crypto.keys import KeyBundle, PublicKeyBundle
from fical_secure.errors import ConfigError

if TYPE_CHECKING:
    from fical_secure.crypto.envelope import EnvelopeContext

_NO_CONFIG: Final = "00" * 32
SEALED_MODE: Final = 0o644
OPENED_MODE: Final = 0o600  # plaintext may be sensitive


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``seal`` and ``open`` commands."""
    seal = sub.add_parser("seal", help="encrypt and sign IN for a peer, write OUT")
    seal.add_argument("--key", required=True, type=Path, help="your private.key")
    seal.add_argument("--to", required=True, type=Path, help="the recipient's public.key")
    _add_common(seal)
    seal.set_defaults(func=run_seal)
    opener = sub.add_parser("open", help="verify and decrypt IN from a peer, write OUT")
    opener.add_argument("--key", required=True, type=Path, help="your private.key")
    opener.add_argument(
        "--from", dest="sender", required=True, type=Path, help="the sender's public.key"
    )
    _add_common(opener)
    opener.set_defaults(func=run_open)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--round", required=True, metavar="N", help="round id (0..2**64-1)")
    parser.add_argument("--stage", default="0", metavar="S", help="stage code 0..255 (default 0)")
    parser.add_argument(
        "--config-hash",
        default=_NO_CONFIG,
        metavar="HEX",
        help="SHA-256 of the round configuration, 64 hex digits (default: all zero, no config)",
    )
    parser.add_argument("input", type=Path, metavar="IN", help="file to read")
    parser.add_argument("output", type=Path, metavar="OUT", help="file to create (must not exist)")


def run_seal(args: argparse.Namespace) -> int:
    """Seal IN to ``--to``'s encryption key as ``--key``'s identity.

    Raises:
        FicalError: bad keys or arguments (printed as one line by the CLI).
    """

    context = _context(args)
    own = KeyBundle.load(args.key)
    peer = PublicKeyBundle.load(args.to)
    payload = _read(args.input, MAX_PAYLOAD_SIZE)
    if payload is None:
        return _fail("seal", f"{args.input}: cannot read, or larger than {MAX_PAYLOAD_SIZE} bytes")
    blob = seal(
        payload,
        sender=own.identity,
        recipient_public=peer.encryption_public,
        recipient_key_id=peer.encryption_key_id,
        context=context,
    )
    return _write("seal", args.output, blob, SEALED_MODE)


def run_open(args: argparse.Namespace) -> int:
    """Verify ``--from``'s signature on IN, check the context, decrypt to OUT.

    Raises:
        FicalError: bad keys or arguments, or InvalidEnvelope (one line by the CLI).
    """

    context = _context(args)
    own = KeyBundle.load(args.key)
    peer = PublicKeyBundle.load(args.sender)
    blob = _read(args.input, MAX_PAYLOAD_SIZE + ENVELOPE_OVERHEAD)
    if blob is None:
        return _fail("open", f"{args.input}: cannot read, or too large to be an envelope")
    payload = open_envelope(
        blob, recipient=own.encryption, sender_public=peer.identity, context=context
    )
    return _write("open", args.output, payload, OPENED_MODE)


def _context(args: argparse.Namespace) -> EnvelopeContext:
    """Build the EnvelopeContext from string options (one-line errors, not usage)."""

    try:
        round_id, stage = int(args.round, 10), int(args.stage, 10)
        config_hash = bytes.fromhex(args.config_hash)
    except ValueError:
        raise ConfigError("--round and --stage take decimal integers, --config-hash hex") from None
    if not 0 <= round_id < 2**64 or not 0 <= stage <= 255 or len(config_hash) != 32:
        raise ConfigError("need 0 <= --round < 2**64, 0 <= --stage <= 255, 32-byte --config-hash")
    return EnvelopeContext(round_id=round_id, stage=stage, config_hash=config_hash)


def _read(path: Path, limit: int) -> bytes | None:
    """The whole file, or None if it cannot be read or exceeds ``limit`` bytes."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None


def _write(command: str, path: Path, data: bytes, mode: int) -> int:
    """Create ``path`` atomically; never overwrite, never leave a partial file."""

    try:
        write_bytes_atomic(path, data, mode=mode, overwrite=False)
    except FileExistsError:
        return _fail(command, f"{path}: already exists; remove it or choose another OUT")
    except OSError as exc:
        return _fail(command, f"{path}: cannot write: {exc.strerror or exc}")
    return 0


def _fail(command: str, message: str) -> int:
    """Print one error line in the CLI's format; exit code 1."""
    print(f"fical-secure {command}: error: {message}", file=sys.stderr)
    return 1
