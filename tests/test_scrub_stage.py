"""The round's scrub stage fails closed per entry: a refused entry is dropped and counted."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("presidio_analyzer")

from fical_secure.data.schema import HospitalData
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.pipeline.client_state import ClientRoundState
from fical_secure.pipeline.gates import ScrubStage
from fical_secure.scrub.scrubber import Scrubber


def test_a_refused_entry_is_dropped_and_counted_and_the_rest_proceeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scrubber = Scrubber.default()
    real = scrubber.analyzer.analyze

    def crash_on_marked(text: str, *args: Any, **kwargs: Any) -> Any:
        if "ward" in text:
            raise RuntimeError("analyzer crashed")
        return real(text, *args, **kwargs)

    monkeypatch.setattr(scrubber.analyzer, "analyze", crash_on_marked)
    state = ClientRoundState(HospitalData("h01", "h01", ("bmi_calculator", "bed_availability")))
    state.released = Compendium(
        owner="h01",
        entries=(
            Entry("bmi_calculator", "purpose", "Before calling bmi_calculator, ask Dr. Holmes."),
            Entry("bed_availability", "usage", "Name the ward, e.g. icu or maternity."),
        ),
    )
    ScrubStage().run(state)
    (kept,) = state.need_release().entries
    assert kept.text == "Before calling bmi_calculator, ask Dr. <PERSON>."
    report = state.report["scrub"]
    assert report["blocked"] is False and report["entries_dropped"] == 1
    assert report["entities_replaced"] == {"PERSON": 1}
