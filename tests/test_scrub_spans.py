"""Span algebra of the scrubber: chunking, overlap resolution, propagation, offset maps."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fical_secure.scrub.spans import (
    chunk_bounds,
    placeholder_ranges,
    propagate,
    replace_spans,
    resolve_overlaps,
    to_original,
)
from fical_secure.scrub.types import Span
from fical_secure.scrub.verify import uncovered


def tag(kind: str) -> str:
    return f"<{kind}>"


def test_chunks_cover_the_text_and_overlap() -> None:
    text = ("word " * 500).strip()
    bounds = chunk_bounds(len(text), 300, 60, text)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    for (s1, e1), (s2, e2) in itertools.pairwise(bounds):
        assert e1 - s1 <= 300 and s2 < e1 and e1 - s2 == 60 and e2 > e1


def test_chunk_cut_moves_back_to_whitespace() -> None:
    text = "a" * 290 + " " + "b" * 400
    (first_start, first_end), *_ = chunk_bounds(len(text), 300, 60, text)
    assert first_start == 0 and first_end == 290


@pytest.mark.parametrize(("size", "overlap"), [(100, 50), (100, -1), (10, 5)])
def test_chunking_rejects_overlap_of_half_the_window_or_more(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_bounds(1000, size, overlap)


def test_structured_type_beats_longer_ner_span_and_covers_the_union() -> None:
    spans = [Span(20, 35, "PERSON", 0.85), Span(23, 35, "INSURANCE_ID", 1.0)]
    assert resolve_overlaps(spans) == [Span(20, 35, "INSURANCE_ID", 1.0)]


def test_longest_then_highest_score_wins_among_pattern_types() -> None:
    spans = [
        Span(0, 10, "DATE", 0.6),
        Span(0, 10, "DATE_OF_BIRTH", 0.95),
        Span(30, 60, "STREET_ADDRESS", 0.7),
        Span(55, 60, "ZIP_CODE", 0.85),
    ]
    assert resolve_overlaps(spans) == [
        Span(0, 10, "DATE_OF_BIRTH", 0.95),
        Span(30, 60, "STREET_ADDRESS", 0.7),
    ]


def test_chained_partial_overlaps_merge_into_one_span() -> None:
    spans = [
        Span(0, 5, "A", 0.5),
        Span(4, 9, "B", 0.5),
        Span(8, 20, "C", 0.5),
        Span(20, 22, "D", 0.9),
    ]
    assert resolve_overlaps(spans) == [Span(0, 20, "C", 0.5), Span(20, 22, "D", 0.9)]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 80),
            st.integers(1, 15),
            st.sampled_from(["PERSON", "MRN", "DATE"]),
            st.floats(0.1, 1.0),
        ),
        max_size=25,
    )
)
def test_resolved_spans_are_disjoint_and_cover_every_input(
    raw: list[tuple[int, int, str, float]],
) -> None:
    spans = [Span(s, s + n, t, sc) for s, n, t, sc in raw]
    out = resolve_overlaps(spans)
    assert all(a.end <= b.start for a, b in itertools.pairwise(out))
    covered = {i for s in out for i in range(s.start, s.end)}
    assert all(i in covered for s in spans for i in range(s.start, s.end))


def test_every_occurrence_of_a_found_value_is_marked_in_any_case() -> None:
    text = "Maria Lopez seen. MARIA LOPEZ called; maria lopez again. Lopezville is a town."
    found = [Span(0, 11, "PERSON", 0.85)]
    out = resolve_overlaps(propagate(text, found))
    values = [text[s.start : s.end] for s in out]
    assert values == ["Maria Lopez", "MARIA LOPEZ", "maria lopez"]


def test_name_parts_of_a_person_propagate_but_honorifics_do_not() -> None:
    text = "Dr. Ann Wu saw Mrs. Maria Lopez. Lopez is stable. Mrs. Smith and Dr. Who."
    found = [Span(text.index("Mrs. Maria"), text.index("Lopez.") + 5, "PERSON", 0.85)]
    values = [text[s.start : s.end] for s in resolve_overlaps(propagate(text, found))]
    assert "Lopez" in values and "Mrs. Maria Lopez" in values
    assert not any(v in ("Mrs", "Mrs.", "Dr") for v in values)


def test_propagation_does_not_mask_inside_longer_words() -> None:
    text = "Ann was seen. The annual review is done."
    values = [
        text[s.start : s.end]
        for s in resolve_overlaps(propagate(text, [Span(0, 3, "PERSON", 0.85)]))
    ]
    assert values == ["Ann"]


def test_replacement_and_offset_maps_agree() -> None:
    text = "call Maria at 425-555-0100 today"
    spans = [Span(5, 10, "PERSON", 0.85), Span(14, 26, "PHONE_NUMBER", 0.6)]
    out = replace_spans(text, spans, tag)
    assert out == "call <PERSON> at <PHONE_NUMBER> today"
    assert [out[a:b] for a, b in placeholder_ranges(spans, tag)] == ["<PERSON>", "<PHONE_NUMBER>"]
    today = out.index("today")
    assert to_original(spans, tag, Span(today, today + 5, "X", 1.0)) == Span(27, 32, "X", 1.0)
    # a found span that ends inside a placeholder extends to the end of the span it replaced
    assert to_original(spans, tag, Span(0, 8, "X", 1.0)) == Span(0, 10, "X", 1.0)


@given(st.text(alphabet="ab c😀é", min_size=1, max_size=60), st.data())
def test_to_original_maps_text_outside_placeholders_to_the_same_characters(
    text: str, data: st.DataObject
) -> None:
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(text)), max_size=6))))
    spans = [Span(a, b, "T", 1.0) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
    out = replace_spans(text, spans, tag)
    holes = {i for a, b in placeholder_ranges(spans, tag) for i in range(a, b)}
    for i, ch in enumerate(out):
        if i not in holes:
            mapped = to_original(spans, tag, Span(i, i + 1, "X", 1.0))
            assert text[mapped.start : mapped.end] == ch


def test_uncovered_names_the_detections_no_masked_span_holds() -> None:
    masked = [Span(0, 10, "PERSON", 1.0), Span(12, 14, "MRN", 1.0)]
    inside = [Span(2, 5, "PERSON", 0.8), Span(12, 14, "MRN", 1.0), Span(0, 10, "PERSON", 1.0)]
    assert uncovered(inside, masked) == []
    straddling, gap, before = Span(9, 13, "MRN", 1.0), Span(10, 12, "DATE", 1.0), Span(0, 1, "X", 1)
    assert uncovered([straddling, gap], masked) == [straddling, gap]
    assert uncovered([before], []) == [before]
    assert uncovered([], []) == []


@settings(deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(1, 8)), max_size=8),
    st.lists(st.tuples(st.integers(0, 60), st.integers(1, 8)), max_size=8),
)
def test_uncovered_agrees_with_a_character_walk(
    found_raw: list[tuple[int, int]], masked_raw: list[tuple[int, int]]
) -> None:
    found = [Span(s, s + n, "A", 1.0) for s, n in found_raw]
    masked = resolve_overlaps(Span(s, s + n, "A", 1.0) for s, n in masked_raw)
    expected = [f for f in found if not any(m.start <= f.start and f.end <= m.end for m in masked)]
    assert uncovered(found, masked) == expected
