"""Where fical-secure keeps what it derives once per machine (converted models, parsed lists).

Everything here is a pure function of an input file: a cache entry is named
after the file's content hash, so a changed input never reuses a stale entry,
and is written atomically, so an interrupted write never leaves one that looks
complete. Deleting the folder only costs the time to derive it again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CACHE_ENV = "FICAL_SECURE_CACHE"
_CHUNK = 1 << 20


def cache_root() -> Path:
    """Root of fical-secure's caches: ``$FICAL_SECURE_CACHE`` or ``~/.cache/fical-secure``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fical-secure"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content (hex), read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
