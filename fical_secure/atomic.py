"""The one atomic write: temporary file in the target folder, fsync, rename or link, fsync folder.

Every file the package writes that a crash must never leave half-written (keys,
sealed envelopes, client state, reports, JSONL outputs) goes through
:func:`write_bytes_atomic`. Standard library only, so the crypto core can use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


@contextlib.contextmanager
def open_atomic(
    path: str | os.PathLike[str],
    *,
    mode: int = 0o644,
    overwrite: bool = True,
    make_parents: bool = False,
) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` atomically when the block ends cleanly.

    The data goes to a temporary file in the same folder, is fsynced, then
    renamed (``overwrite=True``) or hard-linked (``overwrite=False``, which fails
    if ``path`` exists) into place, and the folder is fsynced so the rename is
    durable. If the block raises, the temporary file is removed and ``path`` is
    left as it was. Lets a long output be streamed instead of held in memory.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        OSError: the folder is missing or not writable, the disk is full, ...
    """
    target = Path(path)
    directory = target.parent
    if make_parents:
        directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)
            tmp.unlink()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_directory(directory)


def write_bytes_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    mode: int = 0o644,
    overwrite: bool = True,
    make_parents: bool = False,
) -> None:
    """Write ``data`` to ``path`` atomically with permission bits ``mode`` (:func:`open_atomic`).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        OSError: the folder is missing or not writable, the disk is full, ...
    """
    with open_atomic(path, mode=mode, overwrite=overwrite, make_parents=make_parents) as handle:
        handle.write(data)


def write_text_atomic(
    path: str | os.PathLike[str],
    text: str,
    *,
    mode: int = 0o644,
    overwrite: bool = True,
    make_parents: bool = False,
) -> None:
    """:func:`write_bytes_atomic` of ``text`` as UTF-8 (newlines written as ``\\n``)."""
    write_bytes_atomic(
        path, text.encode("utf-8"), mode=mode, overwrite=overwrite, make_parents=make_parents
    )


def write_json_atomic(
    path: str | os.PathLike[str], data: Any, *, mode: int = 0o644, make_parents: bool = True
) -> None:
    """Write ``data`` as indented, key-sorted JSON (UTF-8, trailing newline), atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_text_atomic(path, text, mode=mode, make_parents=make_parents)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename or unlink in ``directory`` durable (best effort where it cannot be opened)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
