"""The scrubber end to end, on Presidio's known failure modes, and failing closed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("presidio_analyzer")

from fical_secure.errors import ResidualPIIError, ScrubAnalyzerError
from fical_secure.scrub import scrubber as scrubber_module
from fical_secure.scrub.analysis import window_size
from fical_secure.scrub.casing import Casing
from fical_secure.scrub.engine import spacy_max_length
from fical_secure.scrub.scrubber import Scrubber, placeholder
from fical_secure.scrub.spans import chunk_bounds, replace_spans
from fical_secure.scrub.types import Refusal, ScrubResult


@pytest.fixture(scope="session")
def scrubber() -> Scrubber:
    return Scrubber.default()


def values(text: str, result: ScrubResult) -> dict[str, str]:
    return {text[s.start : s.end]: s.type for s in result.entities}


def assert_consistent(text: str, result: ScrubResult) -> None:
    """Offsets index the original text and the scrubbed text is exactly their replacement."""
    assert result.scrubbed == replace_spans(text, result.entities, placeholder)


def test_all_caps_name_is_masked(scrubber: Scrubber) -> None:
    text = "MARIA LOPEZ was admitted overnight with chest pain."
    result = scrubber.scrub(text)
    assert values(text, result) == {"MARIA LOPEZ": "PERSON"}
    assert result.scrubbed == "<PERSON> was admitted overnight with chest pain."


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("phone:(425)555-0100 after hours", "(425)555-0100", "PHONE_NUMBER"),
        ("email:a.b@x.org; thanks", "a.b@x.org", "EMAIL_ADDRESS"),
        ("(MRN-0042137)", "MRN-0042137", "MRN"),
        ("DOB:03/14/1958.", "03/14/1958", "DATE_OF_BIRTH"),
    ],
)
def test_values_glued_to_punctuation_are_masked_exactly(
    scrubber: Scrubber, text: str, value: str, kind: str
) -> None:
    result = scrubber.scrub(text)
    assert values(text, result) == {value: kind}
    assert value not in result.scrubbed
    assert_consistent(text, result)


def test_every_entity_in_a_row_is_masked_not_only_the_first(scrubber: Scrubber) -> None:
    text = (
        "Maria Lopez, MRN-0042137, DOB 03/14/1958, 425-555-0100, maria.lopez@example.org, "
        "SSN 219-09-9999"
    )
    result = scrubber.scrub(text)
    assert set(values(text, result).values()) >= {
        "PERSON",
        "MRN",
        "DATE_OF_BIRTH",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "US_SSN",
    }
    assert not any(ch.isdigit() for ch in result.scrubbed)
    assert "Lopez" not in result.scrubbed
    assert_consistent(text, result)


def test_overlapping_entities_are_replaced_once(scrubber: Scrubber) -> None:
    text = "She lives at 123 Smith Port Apt. 456, Lake Jessica, AK 12345 with her son."
    result = scrubber.scrub(text)
    assert values(text, result) == {
        "123 Smith Port Apt. 456, Lake Jessica, AK 12345": "STREET_ADDRESS"
    }
    assert result.scrubbed == "She lives at <STREET_ADDRESS> with her son."


def test_other_occurrences_of_a_found_value_are_masked(scrubber: Scrubber) -> None:
    text = "Patient Maria Lopez was seen. Called LOPEZ back; lopez agreed."
    result = scrubber.scrub(text)
    assert "lopez" not in result.scrubbed.lower()
    assert_consistent(text, result)


def test_emoji_and_accents_do_not_shift_offsets(scrubber: Scrubber) -> None:
    text = "🙂🙂 Paciente José Núñez 😀 MRN-0042137 📞 425-555-0100 ✉ jose.nunez@example.org 🏥"
    result = scrubber.scrub(text)
    found = values(text, result)
    assert {"MRN-0042137", "425-555-0100", "jose.nunez@example.org"} <= set(found)
    assert any("José Núñez" in value for value in found)
    assert_consistent(text, result)
    assert result.scrubbed.startswith("🙂🙂 ") and result.scrubbed.endswith(" 🏥")


def test_text_longer_than_spacys_limit_is_chunked_and_a_straddling_entity_is_caught(
    scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    nlp = scrubber.analyzer.nlp_engine.nlp["en"]  # type: ignore[attr-defined]
    monkeypatch.setattr(nlp, "max_length", 2000)
    filler = "The patient rested well and vitals were stable overnight. "
    text = filler * 40
    window = window_size(scrubber.profile.chunk_chars, spacy_max_length(scrubber.analyzer, "en"))
    overlap = min(scrubber.profile.overlap_chars, window // 4)
    cut = chunk_bounds(len(text), window, overlap, text)[0][1]
    straddle = cut - 5  # MRN-0042137 starts 5 chars before the first window ends
    text = (
        text[:straddle]
        + " MRN-0042137 "
        + text[straddle:]
        + " phone 425-555-0100, canary 7f3a-91c2-55de"
    )
    with pytest.raises(ValueError):  # spaCy itself refuses the whole text
        nlp(text)
    result = scrubber.scrub(text)
    found = values(text, result)
    assert found.get("MRN-0042137") == "MRN"
    assert {"425-555-0100", "canary 7f3a-91c2-55de"} <= set(found)
    assert_consistent(text, result)


def test_batch_gives_the_same_results_as_one_by_one(scrubber: Scrubber) -> None:
    texts = [
        "Maria Lopez MRN-0042137",
        "no identifiers here at all",
        "DOB 1958-03-14, a 92-year-old",
    ]
    assert scrubber.scrub_batch(texts) == [scrubber.scrub(t) for t in texts]


def test_clean_text_passes_unchanged(scrubber: Scrubber) -> None:
    text = "Check the CBC and BMP; metformin 500 mg twice daily, eGFR 1.73 m2."
    assert scrubber.scrub(text) == ScrubResult(scrubbed=text, entities=[])


def test_analyzer_crash_raises_and_releases_nothing(
    scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom inside the analyzer with MRN-0042137")

    monkeypatch.setattr(scrubber.analyzer, "analyze", crash)
    released: list[ScrubResult] = []
    with pytest.raises(ScrubAnalyzerError) as info:
        released = scrubber.scrub_batch(["Maria Lopez MRN-0042137"])
    assert released == []
    assert "0042137" not in str(info.value)


def test_crash_in_the_verification_scan_also_fails_closed(
    scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = scrubber.analyzer.analyze
    calls: Iterator[int] = iter(range(100))

    def crash_second(*args: Any, **kwargs: Any) -> Any:
        if next(calls) >= 1:
            raise RuntimeError("verification scan died")
        return real(*args, **kwargs)

    monkeypatch.setattr(scrubber.analyzer, "analyze", crash_second)
    with pytest.raises(ScrubAnalyzerError):
        scrubber.scrub("Patient MRN-0042137")


def test_value_left_after_anonymizing_raises_residual_error(
    scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scrubber_module, "propagate", lambda text, spans: list(spans))
    # the case-independent name detectors would find the second spelling: simulate a miss
    monkeypatch.setattr(Casing, "name_spans", lambda self, text: [])
    monkeypatch.setattr(Casing, "recase", lambda self, text: text)
    text = "Patient Maria Lopez was admitted. Later mariA LOPEZ called."
    with pytest.raises(ResidualPIIError) as info:
        scrubber.scrub(text)
    assert "Lopez" not in str(info.value) and "LOPEZ" not in str(info.value)


def _drop_mrn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate a resolution bug that loses the MRN on the first masking pass only."""
    real = scrubber_module.resolve_overlaps  # type: ignore[attr-defined]
    state = {"broken": True}

    def lossy(spans: Any) -> Any:
        out = real(spans)
        if state["broken"] and any(s.type == "MRN" for s in out):
            state["broken"] = False
            return [s for s in out if s.type != "MRN"]
        return out

    monkeypatch.setattr(scrubber_module, "resolve_overlaps", lossy)
    monkeypatch.setattr(scrubber_module, "_check_values_gone", lambda *a: None)


def test_pii_found_by_the_second_scan_raises_residual_error(
    scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_pass = Scrubber(scrubber.analyzer, scrubber.profile.model_copy(update={"mask_passes": 1}))
    _drop_mrn_once(monkeypatch)
    with pytest.raises(ResidualPIIError, match="MRN"):
        one_pass.scrub("Labs for MRN-0042137 are back.")


def test_a_refused_record_does_not_stop_the_others(scrubber: Scrubber) -> None:
    short = Scrubber(
        scrubber.analyzer, scrubber.profile.model_copy(update={"max_record_chars": 40})
    )
    texts = ["Maria Lopez, MRN-0042137", "x" * 41 + " MRN-0042137", "Call 425-555-0100"]
    first, refused, third = short.scrub_records(texts)
    assert isinstance(first, ScrubResult) and first.scrubbed == "<PERSON>, <MRN>"
    assert isinstance(refused, Refusal) and "max_record_chars=40" in refused.reason
    assert "0042137" not in refused.reason
    assert isinstance(third, ScrubResult) and third.scrubbed == "Call <PHONE_NUMBER>"


def test_second_pass_masks_what_the_scan_found_when_the_profile_allows(
    scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_pass = Scrubber(scrubber.analyzer, scrubber.profile.model_copy(update={"mask_passes": 2}))
    _drop_mrn_once(monkeypatch)
    text = "Labs for Maria Lopez, MRN-0042137, are back."
    result = two_pass.scrub(text)
    assert values(text, result).get("MRN-0042137") == "MRN"
    assert result.scrubbed == "Labs for <PERSON>, <MRN>, are back."


def test_non_string_input_is_rejected(scrubber: Scrubber) -> None:
    with pytest.raises(TypeError):
        scrubber.scrub_batch(["ok", 42])  # type: ignore[list-item]


def test_context_token_lookup_agrees_with_presidios_linear_walk(scrubber: Scrubber) -> None:
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    text = "Pt  Maria  Lopez, MRN-0042137; phone:(425)555-0100.\n\nDOB 03/14/1958 ok"
    doc = scrubber.analyzer.nlp_engine.nlp["en"](text)  # type: ignore[attr-defined]
    indices = [t.idx for t in doc]
    fast = scrubber.analyzer.context_aware_enhancer
    for start in range(len(text)):
        expected = LemmaContextAwareEnhancer._find_index_of_match_token("w", start, doc, indices)
        assert fast._find_index_of_match_token("w", start, doc, indices) == expected, start


def _analyzed_lengths(scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Lengths of the texts the analyzer reads from now on (plain units, not recased)."""
    seen: list[int] = []
    real = scrubber.analyzer.analyze

    def record(text: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(len(text))
        return real(text, *args, **kwargs)

    monkeypatch.setattr(scrubber.analyzer, "analyze", record)
    return seen


def test_the_scan_after_masking_reads_only_around_placeholders(
    scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    filler = "Glucose 5.4 mmol/L, reviewed with the team. " * 40
    text = filler + "Maria Lopez called about MRN-0042137. " + filler
    seen = _analyzed_lengths(scrubber, monkeypatch)
    result = scrubber.scrub(text)
    assert values(text, result) == {"Maria Lopez": "PERSON", "MRN-0042137": "MRN"}
    assert seen[0] == len(text)
    rescan = seen[1:]
    assert rescan and all(n <= 2 * scrubber_module.RESCAN_MARGIN + 60 for n in rescan)
    seen.clear()
    assert scrubber.scrub(filler).scrubbed == filler
    assert seen == [len(filler)]  # nothing masked: nothing to scan again


def test_windowed_scan_masks_at_least_what_a_whole_text_scan_does(
    scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the i2b2-format notes nobody here wrote (philter-lite), long enough to have a far side."""
    from benchmarks.scrub_corpora import i2b2_corpus

    texts = [doc.text for doc in i2b2_corpus()]
    windowed = scrubber.scrub_records(texts)
    monkeypatch.setattr(scrubber_module, "RESCAN_MARGIN", 10**9)
    whole = scrubber.scrub_records(texts)
    for text, ours, full in zip(texts, windowed, whole, strict=True):
        assert isinstance(full, ScrubResult) and isinstance(ours, ScrubResult)
        masked = {i for s in ours.entities for i in range(s.start, s.end)}
        assert all(i in masked for s in full.entities for i in range(s.start, s.end)), text[:40]


def test_a_later_pass_scans_only_around_the_placeholders_it_added(
    scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    three = Scrubber(scrubber.analyzer, scrubber.profile.model_copy(update={"mask_passes": 3}))
    filler = "Glucose 5.4 mmol/L, reviewed with the team. " * 12
    text = filler + "Maria Lopez called. " + filler + "MRN-0042137 is back. " + filler
    _drop_mrn_once(monkeypatch)  # pass 1 loses the MRN; its scan finds it; pass 2 masks it
    seen: list[str] = []
    real = scrubber.analyzer.analyze

    def record(unit: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(unit)
        return real(unit, *args, **kwargs)

    monkeypatch.setattr(scrubber.analyzer, "analyze", record)
    result = three.scrub(text)
    assert values(text, result) == {"Maria Lopez": "PERSON", "MRN-0042137": "MRN"}
    first_scan = [u for u in seen[1:] if "<PERSON>" in u]
    last_scan = [u for u in seen if "<MRN>" in u]
    assert first_scan and last_scan  # each pass's scan read its own placeholder
    assert not any("<PERSON>" in u for u in last_scan)  # far from the new one: not read again
