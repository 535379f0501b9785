"""One exception hierarchy for fical-secure, rooted at :class:`FicalError`.

Third-party errors are translated into these at module boundaries. Messages say
what went wrong and what to do next.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_REASON_LINES = 20


class FicalError(Exception):
    """Base class of every error this package raises on purpose."""

    def public_reason(self) -> str:
        """What may be told to another party: the error's type, never its message.

        A message may quote record values (an MRN, a name); it stays in the
        local log, and only this crosses the wire.
        """
        return type(self).__name__


# --- configuration and usage -------------------------------------------------
class ConfigError(FicalError):
    """A configuration file, profile or option is invalid."""


class DataError(FicalError):
    """Input data (a JSONL line, an episode) is malformed.

    ``source`` (a file name, no folder) and ``lines`` say where, so the
    public reason can point at the bad lines without quoting them.
    """

    def __init__(self, message: str, *, source: str = "", lines: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.source = source
        self.lines = tuple(lines)

    def public_reason(self) -> str:
        """The type, the file name and the bad line numbers (at most 20 listed)."""
        reason = type(self).__name__
        if self.source:
            reason += f" at {self.source}"
        if self.lines:
            shown = ", ".join(str(n) for n in self.lines[:MAX_REASON_LINES])
            more = len(self.lines) - MAX_REASON_LINES
            reason += f" line{'s' if len(self.lines) > 1 else ''} {shown}"
            reason += f" and {more} more" if more > 0 else ""
        return reason


class UntrustedInputError(DataError):
    """Bytes from another party exceed the decoder's bounds or are not valid JSON."""


# --- local LLM -------------------------------------------------------------
class ModelNotFoundError(FicalError):
    """The configured model folder / GGUF file / packaged model cannot be found."""


class GenerationError(FicalError):
    """The LLM backend failed while generating or scoring."""


# --- KCG / compendiums ------------------------------------------------------
class SchemaError(FicalError):
    """A compendium (or model output meant to become one) fails validation."""


# --- TLU ---------------------------------------------------------------------
class ToolCallParseError(FicalError):
    """Model output could not be parsed into a valid tool call."""


class ToolExecutionError(FicalError):
    """A (simulated) tool rejected its arguments."""


class RetrievalError(FicalError):
    """The retrieval index could not be built or queried."""


# --- privacy gates -----------------------------------------------------------
class ScrubError(FicalError):
    """The PII scrubber failed closed: nothing may be released."""


class ScrubAnalyzerError(ScrubError):
    """The analyzer itself failed (crash, timeout, bad configuration)."""


class ResidualPIIError(ScrubError):
    """PII was still found after anonymizing (second scan)."""


class AuditError(FicalError):
    """The membership-inference audit could not run."""


class GateBlockedError(FicalError):
    """A privacy gate blocked the release of a compendium."""


class PrivacyBudgetExhausted(GateBlockedError):
    """A differentially private release would pass the hospital's privacy budget.

    ``epsilon_left`` and ``delta_left`` say what the budget still allows; nothing was released.
    """

    def __init__(self, message: str, *, epsilon_left: float, delta_left: float) -> None:
        super().__init__(message)
        self.epsilon_left = epsilon_left
        self.delta_left = delta_left


# --- crypto ------------------------------------------------------------------
class CryptoError(FicalError):
    """Base of cryptographic failures."""


class InvalidEnvelope(CryptoError):
    """An envelope could not be opened. Deliberately says nothing about why."""


class InvalidSignature(CryptoError):
    """A signature did not verify."""


class KeyMisuseError(CryptoError, ValueError):
    """Caller misuse: wrong key type, wrong key size, bad parameter."""


class InvalidPublicKey(KeyMisuseError):
    """A public key is malformed, non-canonical, off the curve or of small order."""


class KeyFileError(CryptoError):
    """A key file is missing, malformed or has permissions wider than 0600."""


# --- protocol ----------------------------------------------------------------
class ProtocolError(FicalError):
    """A protocol message was refused."""


class NotEnrolledError(ProtocolError):
    """The sender is not on the server-signed roster."""


class WrongRoundError(ProtocolError):
    """The message belongs to another round."""


class StageError(ProtocolError):
    """The message or transition is not allowed in the current stage."""


class ReplayError(ProtocolError):
    """The message was already processed (a replay)."""


class RollbackError(ReplayError):
    """A message of an older round than one already accepted (a rollback attempt)."""


class ConflictError(ProtocolError):
    """Different content was submitted for the same (client, round)."""


class StoreError(FicalError):
    """The durable store failed; nothing was acknowledged."""


class MessageFormatError(ProtocolError):
    """A protocol message is malformed (bad magic, version, length or field)."""


class RoundAbortedError(ProtocolError):
    """The round was aborted (too few clients, past deadline, failed recovery)."""


class PipelineError(FicalError):
    """A round stage ran out of order or found an earlier stage's output inconsistent."""


class AggregationError(FicalError):
    """Compendiums could not be aggregated (e.g. one client submitted twice)."""


# --- crypto primitives (appended by the crypto engineer) ---------------------
class InvalidCiphertext(CryptoError):
    """AEAD decryption failed: wrong key, nonce or associated data, or tampering."""


class InvalidPeerKey(CryptoError):
    """A peer's X25519 public key is low-order: the agreement would be all zero."""


# --- secure aggregation (issue 9) ----------------------------------------------
class InvalidShare(CryptoError):
    """A Shamir share failed its commitment, or shares reconstruct no committed secret."""


class QuantizationError(ConfigError):
    """Fixed-point settings are invalid (clipping range, bits, overflow of the modulus)."""


class SecAggRefusal(ProtocolError):
    """A secure-aggregation party refused a request that could leak a client's input."""


class ParticipationRefused(SecAggRefusal):
    """A client refused a secure aggregation its participation policy forbids (differencing)."""


class SecAggAbort(RoundAbortedError):
    """A secure-aggregation round aborted before any input could be revealed."""


class SecAggTimeout(SecAggAbort):
    """A secure-aggregation stage ran past the deadline in the signed round config."""


class WeakSecAggParameters(SecAggRefusal):
    """A signed secure-aggregation config is legal but below this client's floors."""


class DealerBlamed(SecAggRefusal):
    """A holder could not open or verify a dealer's shares: the dealer is dropped."""


class SlotForgery(AggregationError):
    """A decoded slot is impossible for honest clients (count above contributors, negative)."""


# --- deployment on Flower (appended by the flower engineer) -----------------
class DeploymentError(FicalError):
    """A part of a Flower deployment could not start or reach its peer."""


class SuperLinkUnreachableError(DeploymentError):
    """Nothing answers at the SuperLink address."""


class TransportCertificateError(DeploymentError):
    """The SuperLink's TLS certificate does not verify against the pinned CA."""


class FlowerProcessError(DeploymentError):
    """A Flower process (SuperLink, SuperNode, ``flwr``) failed to start or exited with an error."""
