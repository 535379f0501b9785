"""A small, explicit binary codec for protocol messages (no pickle, no JSON).

Every message is ``MAGIC || version:u8 || kind:u8 || fields``; integers are
big-endian and fixed-width, byte strings carry a u32 length prefix and are
capped, and a decoder must consume the input exactly. The encoding is therefore
canonical: one message has exactly one byte string, which is what makes
``config_hash = SHA-256(encoding)`` and byte-identical replay detection sound.
"""

from __future__ import annotations

import struct
from typing import Final

from fical_secure.errors import MessageFormatError

MAGIC: Final = b"FSP"
WIRE_VERSION: Final = 1
MAX_BYTES_FIELD: Final = 64 * 1024 * 1024  # 64 MiB: a compendium is far smaller

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


class Writer:
    """Accumulates fields in wire order; ``finish`` returns the bytes."""

    def __init__(self, kind: int) -> None:
        self._parts: list[bytes] = [MAGIC, _U8.pack(WIRE_VERSION), _U8.pack(kind)]

    def u8(self, value: int) -> Writer:
        """Append an unsigned 8-bit integer."""
        return self._int(_U8, value, 0xFF)

    def u16(self, value: int) -> Writer:
        """Append an unsigned 16-bit integer."""
        return self._int(_U16, value, 0xFFFF)

    def u32(self, value: int) -> Writer:
        """Append an unsigned 32-bit integer."""
        return self._int(_U32, value, 0xFFFF_FFFF)

    def u64(self, value: int) -> Writer:
        """Append an unsigned 64-bit integer."""
        return self._int(_U64, value, 0xFFFF_FFFF_FFFF_FFFF)

    def raw(self, value: bytes, size: int) -> Writer:
        """Append a fixed-size byte string (e.g. a 32-byte hash).

        Raises:
            MessageFormatError: if ``value`` is not exactly ``size`` bytes.
        """
        if len(value) != size:
            raise MessageFormatError(f"expected {size} bytes, got {len(value)}")
        self._parts.append(bytes(value))
        return self

    def blob(self, value: bytes) -> Writer:
        """Append a length-prefixed byte string.

        Raises:
            MessageFormatError: if it is longer than ``MAX_BYTES_FIELD``.
        """
        if len(value) > MAX_BYTES_FIELD:
            raise MessageFormatError(f"byte field of {len(value)} bytes exceeds the cap")
        self._parts.append(_U32.pack(len(value)))
        self._parts.append(bytes(value))
        return self

    def finish(self) -> bytes:
        """Return the encoded message."""
        return b"".join(self._parts)

    def _int(self, fmt: struct.Struct, value: int, top: int) -> Writer:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise MessageFormatError(f"integer field out of range: {value!r}")
        self._parts.append(fmt.pack(value))
        return self


class Reader:
    """Reads fields in wire order from one message; every misuse is typed.

    Raises:
        MessageFormatError: on bad magic/version/kind, truncation, an oversize
            length prefix, or trailing bytes (see :meth:`done`).
    """

    def __init__(self, data: bytes, kind: int) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise MessageFormatError("a message must be bytes")
        self._data = bytes(data)
        self._pos = 0
        if self._take(len(MAGIC)) != MAGIC:
            raise MessageFormatError("not a fical-secure protocol message (bad magic)")
        version = self.u8()
        if version != WIRE_VERSION:
            raise MessageFormatError(f"unsupported wire version {version}; upgrade the peer")
        got = self.u8()
        if got != kind:
            raise MessageFormatError(f"expected message kind {kind}, got {got}")

    def u8(self) -> int:
        """Read an unsigned 8-bit integer."""
        return int(_U8.unpack(self._take(1))[0])

    def u16(self) -> int:
        """Read an unsigned 16-bit integer."""
        return int(_U16.unpack(self._take(2))[0])

    def u32(self) -> int:
        """Read an unsigned 32-bit integer."""
        return int(_U32.unpack(self._take(4))[0])

    def u64(self) -> int:
        """Read an unsigned 64-bit integer."""
        return int(_U64.unpack(self._take(8))[0])

    def raw(self, size: int) -> bytes:
        """Read a fixed-size byte string."""
        return self._take(size)

    def blob(self) -> bytes:
        """Read a length-prefixed byte string."""
        size = self.u32()
        if size > MAX_BYTES_FIELD:
            raise MessageFormatError("byte field length exceeds the cap")
        return self._take(size)

    def done(self) -> None:
        """Assert the whole input was consumed (canonical encoding)."""
        if self._pos != len(self._data):
            raise MessageFormatError(f"{len(self._data) - self._pos} trailing bytes")

    def _take(self, size: int) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise MessageFormatError("message is truncated")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk


def blob_bytes(value: bytes) -> bytes:
    """Encode one length-prefixed byte string on its own (to append to a body).

    Raises:
        MessageFormatError: if it is longer than ``MAX_BYTES_FIELD``.
    """
    if len(value) > MAX_BYTES_FIELD:
        raise MessageFormatError(f"byte field of {len(value)} bytes exceeds the cap")
    return _U32.pack(len(value)) + bytes(value)
