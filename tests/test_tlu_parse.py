"""Parsing model output into catalogue-valid tool calls; garbage raises one typed error."""

from __future__ import annotations

import pytest
from federation_folder import FORECAST
from hypothesis import given, settings
from hypothesis import strategies as st

from fical_secure.data.catalogue import TOOL_NAMES
from fical_secure.data.function_spec import catalogue_from_json
from fical_secure.data.schema import ToolCall
from fical_secure.errors import ToolCallParseError
from fical_secure.tlu.parse import parse_tool_call

LAB = ToolCall("lab_results_lookup", {"mrn": "MRN-0042137", "test": "CBC"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('lab_results_lookup(mrn="MRN-0042137", test="CBC")', LAB),
        ("lab_results_lookup(mrn='MRN-0042137', test='CBC')", LAB),
        ('lab_results_lookup( test = CBC , mrn = "MRN-0042137" )', LAB),
        ('Sure! I will call lab_results_lookup(mrn="MRN-0042137", test="cbc") now.', LAB),
        ('```python\nlab_results_lookup(mrn="MRN-0042137", test="CBC")\n```', LAB),
        ('{"tool": "lab_results_lookup", "arguments": {"mrn": "MRN-0042137", "test": "CBC"}}', LAB),
        (
            'Call: ```json\n{"name": "lab_results_lookup", "args": '
            '{"test": "CBC", "mrn": "MRN-0042137"}}\n```',
            LAB,
        ),
        (
            'bmi_calculator(weight_kg=72.5, height_cm="168")',
            ToolCall("bmi_calculator", {"weight_kg": 72.5, "height_cm": 168.0}),
        ),
        (
            'refill_prescription(mrn="MRN-1234567", drug="metformin", days_supply=90.0)',
            ToolCall(
                "refill_prescription",
                {"mrn": "MRN-1234567", "drug": "metformin", "days_supply": 90},
            ),
        ),
        (
            'schedule_appointment(mrn="MRN-1234567", department="oncology", date="2026-04-12")',
            ToolCall(
                "schedule_appointment",
                {"mrn": "MRN-1234567", "department": "oncology", "date": "2026-04-12"},
            ),
        ),
    ],
)
def test_well_formed_calls_parse(text: str, expected: ToolCall) -> None:
    assert parse_tool_call(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no tool call"),
        ("I think you should check the labs.", "no tool call"),
        ('delete_patient(mrn="MRN-0042137")', "no call of a catalogue tool"),
        ('{"tool": "delete_patient", "arguments": {}}', "unknown tool"),
        ('lab_results_lookup(mrn="MRN-0042137", test="CBC"', "missing closing"),
        ('lab_results_lookup(mrn="MRN-0042137, test="CBC")', "missing closing"),
        ('lab_results_lookup(mrn="MRN-0042137" test="CBC")', "expected ','"),
        ('lab_results_lookup("MRN-0042137", "CBC")', "expected an argument name"),
        ("lab_results_lookup(mrn=, test=CBC)", "bad argument value"),
        ('lab_results_lookup(mrn="MRN-0042137")', "missing argument"),
        ('lab_results_lookup(mrn="MRN-0042137", test="CBC", ward="icu")', "no argument"),
        ('lab_results_lookup(mrn="MRN-0042137", mrn="MRN-0042137", test="CBC")', "twice"),
        ('lab_results_lookup(mrn="0042137", test="CBC")', "does not match"),
        ('lab_results_lookup(mrn="MRN-0042137", test="MRI")', "not allowed"),
        ("bmi_calculator(weight_kg=heavy, height_cm=170)", "expected a number"),
        ("bmi_calculator(weight_kg=True, height_cm=170)", "unsupported literal"),
        (
            '{"tool": "bmi_calculator", "arguments": {"weight_kg": true, "height_cm": 170}}',
            "expected a float",
        ),
        (
            '{"tool": "bmi_calculator", "arguments": {"weight_kg": [70], "height_cm": 170}}',
            "expected a float",
        ),
        ('{"tool": "bmi_calculator", "arguments": "weight 70"}', "must be an object"),
        ('egfr_calculator(creatinine_mg_dl=1.1, age=67.5, sex="male")', "integer"),
        (
            'schedule_appointment(mrn="MRN-1234567", department="oncology", date="12/04/2026")',
            "YYYY-MM-DD",
        ),
        (
            'schedule_appointment(mrn="MRN-1234567", department="oncology", date="2026-02-30")',
            "calendar date",
        ),
        ("bmi_calculator(weight_kg=max(70, 80), height_cm=170)", "nested parenthesis"),
        ("bmi_calculator(weight_kg=1" + "0" * 5000 + ", height_cm=170)", "number too long"),
        ("x" * 30_000, "longer than"),
    ],
)
def test_malformed_output_raises_parse_error(text: str, why: str) -> None:
    with pytest.raises(ToolCallParseError, match=why):
        parse_tool_call(text)


def test_non_text_input_raises_parse_error() -> None:
    with pytest.raises(ToolCallParseError):
        parse_tool_call(None)  # type: ignore[arg-type]


_FRAGMENTS = st.sampled_from(
    [
        *TOOL_NAMES,
        "(",
        ")",
        "=",
        ",",
        '"',
        "'",
        "{",
        "}",
        ":",
        "[",
        "]",
        "```",
        "\\",
        "mrn",
        "test",
        "CBC",
        "MRN-0042137",
        "1e999",
        "-3.5",
        "true",
        "null",
        " ",
        "\n",
        '"tool"',
        '"arguments"',
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=30).map("".join))
def test_fuzzed_output_only_ever_raises_parse_error(text: str) -> None:
    try:
        call = parse_tool_call(text)
    except ToolCallParseError:
        return
    # anything accepted is a valid catalogue call that round-trips
    assert call.tool in TOOL_NAMES
    assert parse_tool_call(call.render()) == call


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_only_ever_raises_parse_error(text: str) -> None:
    try:
        parse_tool_call(text)
    except ToolCallParseError:
        pass


def test_a_namespaced_tool_with_array_and_object_arguments_parses_and_is_schema_checked() -> None:
    (tool,) = catalogue_from_json([FORECAST])
    with pytest.raises(ToolCallParseError, match=r"weather\.get is missing argument\(s\): fields"):
        parse_tool_call('Sure: weather.get(city="Oslo")', [tool])  # the dotted name is found
    args = '"city": "Oslo", "fields": ["rain"], "units": {"temp": "C"}'
    text = '{"tool": "weather.get", "arguments": {' + args + "}}"
    call = parse_tool_call(text, [tool])
    assert call == ToolCall(
        "weather.get", {"city": "Oslo", "fields": ["rain"], "units": {"temp": "C"}}
    )
    with pytest.raises(ToolCallParseError, match=r"'fields\[0\]' must be one of rain, wind"):
        parse_tool_call(text.replace('["rain"]', '["snow"]'), [tool])
