"""What our Flower messages carry: named byte fields in one ConfigRecord, nothing else.

Flower only transports; every field that matters is one of our own signed or
sealed encodings (round config, roster, envelope, receipt, global result), so
a compromised SuperLink can read or forge nothing. The names here are the one
place both apps agree on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fical_secure.errors import MessageFormatError

if TYPE_CHECKING:
    from flwr.app import Message, RecordDict

RECORD = "fical"
SUBMIT = "train.fical_submit"  # server -> client: round config + roster; reply: envelope
RESULT = "evaluate.fical_result"  # server -> client: (receipt +) signed result; reply: stored
PREPARE = "train.fical_prepare"  # secagg: round config + roster; reply: signed ready statement
SECAGG = "train.fical_secagg"  # secagg: one stage's request; reply: that stage's answer
STATUS_SEALED, STATUS_BLOCKED, STATUS_FAILED, STATUS_STORED = (
    "sealed",
    "blocked",
    "failed",
    "stored",
)
STATUS_READY, STATUS_OK = "ready", "ok"
REFUSALS = frozenset({STATUS_BLOCKED, STATUS_FAILED})
MAX_FIELD_BYTES = 16 * 1024 * 1024 + 4096  # the protocol's largest envelope plus headroom
MAX_NOTES_BYTES = 1024 * 1024  # a client's gate figures (JSON)


def record(**fields: bytes | str) -> RecordDict:
    """The content of one message: our fields in the ``fical`` ConfigRecord."""
    from flwr.app import ConfigRecord, RecordDict

    return RecordDict({RECORD: ConfigRecord(dict(fields))})


def field_bytes(message: Message, name: str, *, limit: int = MAX_FIELD_BYTES) -> bytes:
    """One byte field of a message, bounded.

    Raises:
        MessageFormatError: the message has no such field, or it is not bytes or too large.
    """
    value = _field(message, name)
    if not isinstance(value, bytes) or len(value) > limit:
        raise MessageFormatError(f"message field {name!r} must be bytes, at most {limit}")
    return value


def field_text(message: Message, name: str) -> str:
    """One short text field of a message (status, reason).

    Raises:
        MessageFormatError: the message has no such field, or it is not a short string.
    """
    value = _field(message, name)
    if not isinstance(value, str) or len(value) > 4096:
        raise MessageFormatError(f"message field {name!r} must be a string of at most 4096 chars")
    return value


def refusal(reply: Message, expected: str) -> str | None:
    """None when ``reply`` has status ``expected``; else "status: reason" (the peer's refusal).

    Raises:
        MessageFormatError: the reply carries no readable status (or reason),
            or a status that is neither ``expected`` nor a refusal.
    """
    status = field_text(reply, "status")
    if status == expected:
        return None
    if status not in REFUSALS:
        raise MessageFormatError(f"unknown reply status of {len(status)} characters")
    return f"{status}: {field_text(reply, 'reason')}"


def has_field(message: Message, name: str) -> bool:
    """Whether the message carries field ``name`` (optional fields)."""
    if message.has_error():
        return False
    records = message.content.config_records
    return RECORD in records and name in records[RECORD]


def _field(message: Message, name: str) -> object:
    if message.has_error():
        raise MessageFormatError(f"the peer replied with an error: {message.error.reason}")
    records = message.content.config_records
    if RECORD not in records or name not in records[RECORD]:
        raise MessageFormatError(f"message has no field {name!r}")
    return records[RECORD][name]
