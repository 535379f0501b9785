"""The transport section of round.json: bytes each way, written in one place."""

from __future__ import annotations

from fical_secure.jsontypes import JsonObject
from fical_secure.pipeline.transport_figures import TransportFigures, record_transport


def test_figures_before_and_after_delivery() -> None:
    sent = TransportFigures("sealed", 300, 40, counts={"envelopes": 3, "suite": "s"})
    report: JsonObject = {"mode": "sealed"}
    record_transport(report, sent)
    assert report["transport"] == {
        "mode": "sealed",
        "upload_bytes": 300,
        "round_config_bytes": 40,
        "envelopes": 3,
        "suite": "s",
    }
    assert report["communication_bytes_total"] == 340
    done = sent.delivered(600)
    assert sent.global_download_bytes is None  # frozen: delivering makes new figures
    record_transport(report, done)
    assert report["transport"]["global_download_bytes"] == 600
    assert report["communication_bytes_total"] == 940 == done.total_bytes
