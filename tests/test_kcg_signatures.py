"""Deterministic parts of KCG: signatures, templated argument entries, prompts."""

from __future__ import annotations

import pytest

from fical_secure.data.schema import ArgValue, Episode, ToolCall
from fical_secure.kcg.prompts import map_prompt, mask_values, reduce_prompt
from fical_secure.kcg.signatures import (
    arguments_entry,
    induce_signatures,
    record_values,
    value_type,
)


def _episode(i: int, tool: str, request: str, **args: ArgValue) -> Episode:
    return Episode(
        episode_id=f"e{i}",
        hospital_id="h01",
        request=request,
        call=ToolCall(tool, dict(args)),
        result="ok",
        answer="done",
        split="member",
    )


EPISODES = [
    _episode(
        1, "lab_results_lookup", "HbA1c for Jane Roe, MRN-1234567?", mrn="MRN-1234567", test="HbA1c"
    ),
    _episode(2, "lab_results_lookup", "CBC for MRN-7654321 please.", mrn="MRN-7654321", test="CBC"),
    _episode(3, "lab_results_lookup", "HbA1c for MRN-1111111.", mrn="MRN-1111111", test="HbA1c"),
    _episode(4, "bmi_calculator", "BMI at 70 kg, 175 cm?", weight_kg=70.0, height_cm=175.0),
    _episode(5, "bmi_calculator", "BMI at 81 kg, 180 cm?", weight_kg=81, height_cm=180.5),
    _episode(
        6,
        "schedule_appointment",
        "Book John Smith on 2025-05-09.",
        date="2025-05-09",
        who="John Smith",
    ),
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, "int"),
        (2.5, "float"),
        ("2025-05-09", "date"),
        ("lipid_panel", "enum"),
        ("MRN-1234567", "str"),
        ("John Smith", "str"),
        ("jane@example.org", "str"),
    ],
)
def test_value_types_are_induced_conservatively(value: ArgValue, expected: str) -> None:
    assert value_type(value) == expected


def test_signatures_list_arguments_in_call_order_with_merged_types() -> None:
    sigs = {s.tool: s.args for s in induce_signatures(EPISODES)}
    assert sigs["lab_results_lookup"] == (("mrn", "str"), ("test", "enum"))
    assert sigs["bmi_calculator"] == (("weight_kg", "float"), ("height_cm", "float"))
    assert sigs["schedule_appointment"] == (("date", "date"), ("who", "str"))


def test_arguments_entry_lists_only_values_seen_in_several_episodes() -> None:
    sig = next(s for s in induce_signatures(EPISODES) if s.tool == "lab_results_lookup")
    entry = arguments_entry(sig, EPISODES)
    assert entry is not None and entry.kind == "arguments"
    assert "HbA1c" in entry.text  # seen twice
    assert "CBC" not in entry.text  # seen once: could be unique to one record
    assert "MRN-" not in entry.text


def test_record_values_hold_ids_and_names_but_not_vocabulary() -> None:
    values = record_values(EPISODES)
    assert {"MRN-1234567", "John Smith"} <= values
    assert "HbA1c" not in values and "2025-05-09" in values
    assert {"70", "175", "81", "180.5"} <= values  # numbers: ages, weights are quasi-identifiers


def test_prompts_mask_record_values_and_end_with_the_answer_opening() -> None:
    prompt = map_prompt("lab_results_lookup", EPISODES[:2], "purpose")
    assert "1234567" not in prompt and "MRN-#######" in prompt
    assert prompt.endswith('"lab_results_lookup is used to".')
    assert "jane@x.org" not in mask_values("mail jane@x.org")
    merged = reduce_prompt("bmi_calculator", "usage", ["Call it for BMI.", "Use it with weight."])
    assert "- Call it for BMI." in merged and "when to call the tool" in merged
