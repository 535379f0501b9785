"""What one round sent over its transport: bytes each way, and the carrier's own counts.

Every driver (the in-process demo, the Flower server, sealed or secure
aggregation) fills one :class:`TransportFigures`; :meth:`~TransportFigures.to_dict`
is the ``transport`` section of ``round.json`` and
:attr:`~TransportFigures.total_bytes` its ``communication_bytes_total``
(both written by :func:`record_transport`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fical_secure.jsontypes import JsonObject


@dataclass(frozen=True)
class TransportFigures:
    """Bytes up (payloads) and down (round config, then the global result) in one round."""

    mode: str  # sealed, secagg or plain
    upload_bytes: int
    round_config_bytes: int
    # the carrier's own counts and cipher suite: envelopes, rejected payloads, SecAgg figures
    counts: JsonObject = field(default_factory=dict)
    global_download_bytes: int | None = None  # None until the result is delivered

    def delivered(self, download_bytes: int) -> TransportFigures:
        """These figures once the global result went down: ``download_bytes`` in all."""
        return replace(self, global_download_bytes=download_bytes)

    @property
    def total_bytes(self) -> int:
        """Everything sent either way so far."""
        return self.upload_bytes + self.round_config_bytes + (self.global_download_bytes or 0)

    def to_dict(self) -> JsonObject:
        """The ``transport`` section of ``round.json``."""
        out: JsonObject = {
            "mode": self.mode,
            "upload_bytes": self.upload_bytes,
            "round_config_bytes": self.round_config_bytes,
            **self.counts,
        }
        if self.global_download_bytes is not None:
            out["global_download_bytes"] = self.global_download_bytes
        return out


def record_transport(report: JsonObject, figures: TransportFigures) -> None:
    """Write ``figures`` into a round report: its ``transport`` section and byte total."""
    report["transport"] = figures.to_dict()
    report["communication_bytes_total"] = figures.total_bytes
