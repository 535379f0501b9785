"""Bounded reading of bytes and files that come from another party.

The one place untrusted input is read. ``json.loads`` on hostile input can
raise ``RecursionError`` (deep nesting), ``ValueError`` (an integer of more
than 4300 digits) or spend memory without bound; a path can name a FIFO that
blocks forever or a device (``/dev/zero``) that never ends. None of that may
escape a stage or hang a client, so:

- :func:`loads_bounded` checks size and nesting depth *before* parsing, bounds
  integer and float literals while parsing, refuses NaN and Infinity, and
  raises one typed error;
- :func:`open_regular` opens without blocking and refuses, before reading a
  byte, anything that is not a regular file or is larger than a cap;
  :func:`read_regular`, :func:`load_json_file` and :func:`load_yaml_file`
  build on it (PyYAML recurses per nesting level: a deep file's
  ``RecursionError`` becomes the typed error, within the size cap).

Errors opening a path (missing, permission) stay :class:`OSError`, so each
caller keeps its own hint; everything else is :class:`UntrustedInputError`.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from fical_secure.errors import UntrustedInputError

# possessive: a long string literal is matched without a backtracking stack (memory linear)
_STRING: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKET: Final = re.compile(rb"[\[\]{}]")
MAX_FILE_BYTES: Final = 256 * 1024 * 1024
"""Default cap of a data file read whole (episodes, catalogue, meta.json)."""


@dataclass(frozen=True)
class JsonLimits:
    """What a decoder accepts from an untrusted party."""

    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 32
    max_number_chars: int = 32


DEFAULT_LIMITS: Final = JsonLimits()
DOCUMENT_LIMITS: Final = JsonLimits(max_bytes=64 * 1024 * 1024, max_depth=64)
"""A whole JSON file a user hands over (a catalogue, a federation's meta.json)."""
MAX_CONFIG_BYTES: Final = 1024 * 1024
"""Cap of a YAML configuration or profile."""


def _depth(data: bytes) -> int:
    """Deepest ``[``/``{`` nesting outside string literals (linear: C regex, then one pass)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_bounded(data: bytes | str, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """Parse untrusted JSON within ``limits``.

    Raises:
        UntrustedInputError: too large, too deeply nested, a number literal
            longer than allowed, NaN/Infinity, invalid UTF-8 or invalid JSON.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > limits.max_bytes:
        raise UntrustedInputError(f"input of {len(raw)} bytes exceeds {limits.max_bytes}")
    depth = _depth(raw)
    if depth > limits.max_depth:
        raise UntrustedInputError(f"input nests {depth} levels deep; at most {limits.max_depth}")

    def number(text: str, kind: type[int] | type[float]) -> int | float:
        if len(text) > limits.max_number_chars:
            raise UntrustedInputError(f"number literal of {len(text)} characters")
        value = kind(text)
        if isinstance(value, float) and not math.isfinite(value):
            raise UntrustedInputError("non-finite number")
        return value

    def constant(name: str) -> Any:
        raise UntrustedInputError(f"{name} is not JSON")

    try:
        return json.loads(
            raw.decode("utf-8"),
            parse_int=lambda t: number(t, int),
            parse_float=lambda t: number(t, float),
            parse_constant=constant,
        )
    except UnicodeDecodeError:
        raise UntrustedInputError("input is not valid UTF-8") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        if isinstance(exc, UntrustedInputError):
            raise
        raise UntrustedInputError(f"{exc}") from None


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> io.BufferedReader:
    """Open ``path`` for reading only if it is a regular file of at most ``max_bytes``.

    The open is non-blocking (a FIFO with no writer cannot hang it) and the
    check is ``fstat`` on the opened descriptor, so a symlink swapped between
    a check and the open cannot slip a device through.

    Raises:
        OSError: the path cannot be opened (missing, permission).
        UntrustedInputError: it is a FIFO, device, socket or directory, or too large.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UntrustedInputError(
                f"{path} is {_kind(info.st_mode)}; only regular files are read as data"
            )
        if info.st_size > max_bytes:
            raise UntrustedInputError(
                f"{path} has {info.st_size} bytes; at most {max_bytes} are read"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """All bytes of the regular file ``path``, never more than ``max_bytes`` (it may grow).

    Raises:
        OSError: the path cannot be opened or read.
        UntrustedInputError: not a regular file, or larger than ``max_bytes``.
    """
    with open_regular(path, max_bytes=max_bytes) as handle:
        size = os.fstat(handle.fileno()).st_size  # read() sizes its buffer by the request
        data = handle.read(size + 1)
        if len(data) > size:  # it grew since the check: read on, never past the cap
            data += handle.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:
        raise UntrustedInputError(f"{path} grew past {max_bytes} bytes while being read")
    return data


def load_json_file(path: str | Path, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """The JSON value of the regular file ``path``, read and parsed within ``limits``.

    Raises:
        OSError: the path cannot be opened or read.
        UntrustedInputError: not a regular file, too large, too deep or not JSON.
    """
    return loads_bounded(read_regular(path, max_bytes=limits.max_bytes), limits)


def loads_yaml(data: bytes) -> Any:
    """``yaml.safe_load`` of untrusted bytes, every failure one typed error.

    Raises:
        UntrustedInputError: not UTF-8, not YAML, or nested past the interpreter's recursion limit.
    """
    try:
        return yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise UntrustedInputError("input is not valid UTF-8") from None
    except yaml.YAMLError as exc:
        raise UntrustedInputError(f"input is not valid YAML: {exc}") from None
    except RecursionError:
        raise UntrustedInputError("input nests too deeply to be a configuration") from None


def load_yaml_file(path: str | Path, *, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    """The YAML value of the regular file ``path`` (a configuration or profile), bounded.

    Raises:
        OSError: the path cannot be opened or read.
        UntrustedInputError: not a regular file, too large, not UTF-8 YAML, or too deep.
    """
    return loads_yaml(read_regular(path, max_bytes=max_bytes))
