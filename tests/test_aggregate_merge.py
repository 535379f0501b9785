"""Aggregation of client compendiums: union, dedupe, support counts, k-support."""

from __future__ import annotations

import itertools

import pytest

from fical_secure.aggregate import GLOBAL_OWNER, aggregate, merge_signatures
from fical_secure.errors import AggregationError
from fical_secure.kcg.schema import Compendium, Entry, ToolSignature
from fical_secure.tlu.embedding import Embedder, default_embedder


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return default_embedder()


def _comp(
    owner: str, *entries: tuple[str, str, str], sigs: tuple[ToolSignature, ...] = ()
) -> Compendium:
    built = tuple(Entry(t, k, x) for t, k, x in entries)  # type: ignore[arg-type]
    return Compendium(owner, built, sigs)


LAB = "lab_results_lookup"
LAB_A = (LAB, "purpose", "Use this tool to fetch the latest laboratory test result for a patient.")
LAB_B = (LAB, "purpose", "Use this tool to fetch the most recent lab test result for a patient.")
LAB_PITFALL = (LAB, "pitfall", "The MRN must look like MRN- followed by seven digits.")
BMI = (
    "bmi_calculator",
    "purpose",
    "Computes body-mass index from weight in kilograms and height in centimetres.",
)
BEDS = ("bed_availability", "usage", "Ask for the ward by name, for example icu or maternity.")


def test_exact_duplicates_merge_without_embedder_and_sum_support() -> None:
    out = aggregate([_comp("h1", LAB_A, BMI), _comp("h2", LAB_A), _comp("h3", BMI, BEDS)])
    assert out.owner == GLOBAL_OWNER
    support = {e.text: e.support for e in out.entries}
    assert support == {LAB_A[2]: 2, BMI[2]: 2, BEDS[2]: 1}


def test_case_and_whitespace_variants_are_exact_duplicates() -> None:
    shouted = (LAB_A[0], LAB_A[1], "  " + LAB_A[2].upper().replace(" ", "   "))
    out = aggregate([_comp("h1", LAB_A), _comp("h2", shouted)])
    assert len(out.entries) == 1 and out.entries[0].support == 2


def test_near_duplicate_paraphrases_merge(embedder: Embedder) -> None:
    out = aggregate([_comp("h1", LAB_A), _comp("h2", LAB_B), _comp("h3", LAB_A)], embedder=embedder)
    assert len(out.entries) == 1
    # the text sent by most clients represents the merged entry
    assert out.entries[0].text == LAB_A[2] and out.entries[0].support == 3


def test_distinct_entries_do_not_merge(embedder: Embedder) -> None:
    out = aggregate([_comp("h1", LAB_A, LAB_PITFALL, BMI), _comp("h2", BEDS)], embedder=embedder)
    assert len(out.entries) == 4
    assert all(e.support == 1 for e in out.entries)


def test_same_text_for_different_tools_or_kinds_stays_separate(embedder: Embedder) -> None:
    other_kind = (LAB_A[0], "usage", LAB_A[2])
    other_tool = ("vitals_lookup", LAB_A[1], LAB_A[2])
    out = aggregate([_comp("h1", LAB_A), _comp("h2", other_kind, other_tool)], embedder=embedder)
    assert len(out.entries) == 3


def test_threshold_one_merges_only_identical_texts(embedder: Embedder) -> None:
    out = aggregate([_comp("h1", LAB_A), _comp("h2", LAB_B)], embedder=embedder, threshold=1.0)
    assert len(out.entries) == 2


def test_one_client_sending_two_paraphrases_counts_once(embedder: Embedder) -> None:
    out = aggregate([_comp("h1", LAB_A, LAB_B), _comp("h2", LAB_A)], embedder=embedder)
    assert [e.support for e in out.entries] == [2]


def test_output_is_independent_of_input_order(embedder: Embedder) -> None:
    comps = [_comp("h1", LAB_A, BMI), _comp("h2", LAB_B, BEDS), _comp("h3", LAB_PITFALL, LAB_B)]
    outputs = set()
    for perm in itertools.permutations(comps):
        shuffled = [c.with_entries(tuple(reversed(c.entries))) for c in perm]
        outputs.add(aggregate(shuffled, embedder=embedder).to_json())
    assert len(outputs) == 1


def test_min_support_drops_rarely_shared_entries(embedder: Embedder) -> None:
    comps = [_comp("h1", LAB_A, BEDS), _comp("h2", LAB_B), _comp("h3", BMI)]
    out = aggregate(comps, embedder=embedder, min_support=2)
    assert [(e.tool, e.support) for e in out.entries] == [("lab_results_lookup", 2)]
    assert out.meta["n_dropped_low_support"] == 2


def test_global_compendium_carries_no_client_ids() -> None:
    out = aggregate([_comp("hospital-alpha", LAB_A), _comp("hospital-beta", BMI)])
    blob = out.to_json()
    assert "hospital-alpha" not in blob and "hospital-beta" not in blob


def test_aggregating_global_compendiums_keeps_their_counts() -> None:
    first = aggregate([_comp("h1", LAB_A), _comp("h2", LAB_A)])
    second = aggregate([_comp("h3", LAB_A)])
    again = aggregate([first, second])
    assert [e.support for e in again.entries] == [3]


def test_same_client_twice_is_refused() -> None:
    with pytest.raises(AggregationError):
        aggregate([_comp("h1", LAB_A), _comp("h1", BMI)])


@pytest.mark.parametrize("kwargs", [{"threshold": 0.0}, {"threshold": 1.5}, {"min_support": 0}])
def test_bad_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        aggregate([_comp("h1", LAB_A)], **kwargs)  # type: ignore[arg-type]


def test_signatures_are_unioned_order_independently() -> None:
    a = ToolSignature("schedule_appointment", (("mrn", "str"), ("department", "enum")))
    b = ToolSignature(
        "schedule_appointment", (("mrn", "str"), ("date", "date"), ("department", "enum"))
    )
    c = ToolSignature("bmi_calculator", (("weight_kg", "float"), ("height_cm", "float")))
    comps = [_comp("h1", sigs=(a,)), _comp("h2", sigs=(b, c))]
    out = merge_signatures(comps)
    assert out == merge_signatures(list(reversed(comps)))
    sched = next(s for s in out if s.tool == "schedule_appointment")
    # earliest position anywhere first (department and date both reach 1), then name
    assert sched.args == (("mrn", "str"), ("date", "date"), ("department", "enum"))
    assert [s.tool for s in merge_signatures(comps, min_support=2)] == ["schedule_appointment"]


def test_conflicting_argument_types_resolve_by_majority() -> None:
    sigs = [
        ToolSignature("refill_prescription", (("days_supply", t),)) for t in ("int", "int", "str")
    ]
    comps = [_comp(f"h{i}", sigs=(s,)) for i, s in enumerate(sigs)]
    assert merge_signatures(comps)[0].args == (("days_supply", "int"),)
