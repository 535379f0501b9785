"""Key files on disk: an explicit, versioned text format, atomic writes, strict reads.

Format (ASCII, exactly two lines, each ending in ``\\n``)::

    fical-secure <kind> v1
    <standard base64 of the raw key bytes, padded, no line breaks>

``<kind>`` names what the bytes are (``identity-key``, ``private-key``,
``public-key``) and fixes their length, so a file of one kind can never be
loaded as another. No pickle, no ASN.1: the layout of the raw bytes is
documented by the class that owns each kind.

Private files are written with mode 0600 and refused on load when their mode is
wider than 0600, when another user owns them, or when they are not regular
files (symlinks included). Every write goes to a temporary file in the target
directory, is fsynced, then linked into place, so a crash never leaves a
partial key, and an existing key is never silently overwritten.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path
from typing import Final

from fical_secure.atomic import write_bytes_atomic
from fical_secure.errors import KeyFileError

PRIVATE_MODE: Final = 0o600
PUBLIC_MODE: Final = 0o644
_MAX_FILE_SIZE: Final = 4096
_FORMAT_VERSION: Final = "v1"


def encode_key_file(kind: str, raw: bytes) -> bytes:
    """Render raw key bytes as the two-line text format."""
    header = f"fical-secure {kind} {_FORMAT_VERSION}\n".encode("ascii")
    return header + base64.b64encode(raw) + b"\n"


def decode_key_file(data: bytes, *, kind: str, size: int, path: Path) -> bytes:
    """Parse the two-line format strictly and return exactly ``size`` raw bytes.

    Raises:
        KeyFileError: wrong kind or version, bad base64, wrong length, extra data.
    """
    lines = data.split(b"\n")
    expected_header = f"fical-secure {kind} {_FORMAT_VERSION}".encode("ascii")
    if len(lines) != 3 or lines[2] != b"" or lines[0] != expected_header:
        raise KeyFileError(
            f"{path}: not a fical-secure {kind} {_FORMAT_VERSION} file; "
            f"create one with `fical-secure keys new`"
        )
    try:
        raw = base64.b64decode(lines[1], validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{path}: key data is not valid base64") from None
    if len(raw) != size or base64.b64encode(raw) != lines[1]:
        raise KeyFileError(f"{path}: key data must be {size} bytes in canonical base64")
    return raw


def save_key_file(path: Path, kind: str, raw: bytes, *, private: bool) -> None:
    """Write a key file (0600 if private, 0644 otherwise); never overwrites.

    Raises:
        KeyFileError: the file exists, or it cannot be written.
    """
    try:
        write_bytes_atomic(
            path,
            encode_key_file(kind, raw),
            mode=PRIVATE_MODE if private else PUBLIC_MODE,
            overwrite=False,
        )
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot write key file: {exc.strerror}") from None


def load_key_file(path: Path, *, kind: str, size: int, private: bool) -> bytes:
    """Read and parse a key file, checking its ownership and permissions first.

    Private files must be regular files owned by the current user with no
    permission bits beyond 0600. Public files must not be writable by group or
    others (someone else could swap the key).

    Raises:
        KeyFileError: missing, unreadable, too permissive, not ours, or malformed.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot open key file: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        _check_file_status(path, info, private=private)
        data = os.read(fd, _MAX_FILE_SIZE + 1)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key file: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > _MAX_FILE_SIZE:
        raise KeyFileError(f"{path}: too large to be a key file")
    return decode_key_file(data, kind=kind, size=size, path=path)


def trust_problem(path: Path, info: os.stat_result, *, private: bool) -> str | None:
    """Why a key file cannot be trusted, or None: the one rule the loader and the audit share.

    A key file is trusted when it is a regular file, its mode is no wider than
    0600 (private) or not writable by group or others (public), it is owned by
    the current user (or, for public keys, by root), and its folder is not
    writable by group or others (whoever can write the folder can swap the file).
    """
    if not stat.S_ISREG(info.st_mode):
        return f"{path}: not a regular file"
    mode = stat.S_IMODE(info.st_mode)
    euid = os.geteuid()
    if private and mode & ~PRIVATE_MODE:
        return f"{path}: permissions {mode:04o} are wider than 0600; run `chmod 600 {path}`"
    if not private and mode & 0o022:
        return f"{path}: writable by group or others ({mode:04o}); run `chmod go-w {path}`"
    owners = {euid} if private else {euid, 0}
    if info.st_uid not in owners:
        return (
            f"{path}: owned by uid {info.st_uid}, not by the current user (uid {euid}); "
            f"whoever owns it can rewrite the key: `chown {euid} {path}` after checking it"
        )
    folder = path.parent
    try:
        folder_info = os.stat(folder)
    except OSError as exc:
        return f"{folder}: cannot check the key's folder: {exc.strerror}"
    folder_mode = stat.S_IMODE(folder_info.st_mode)
    if folder_mode & 0o022:
        return (
            f"{folder}: the folder holding {path.name} is writable by group or others "
            f"({folder_mode:04o}), so the key can be swapped; run `chmod go-w {folder}`"
        )
    if folder_info.st_uid not in (euid, 0):
        return f"{folder}: owned by uid {folder_info.st_uid}, who can swap {path.name}"
    return None


def _check_file_status(path: Path, info: os.stat_result, *, private: bool) -> None:
    """Raise the trust problem, if any (see :func:`trust_problem`)."""
    problem = trust_problem(path, info, private=private)
    if problem is not None:
        raise KeyFileError(problem)
