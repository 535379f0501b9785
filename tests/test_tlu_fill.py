"""Argument filling under the tool's JSON Schema: candidates, narrowing, and the real model."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from fical_secure.data.arg_schema import call_schema
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.function_spec import catalogue_from_json
from fical_secure.data.json_schema import argument_problems, schema_problems
from fical_secure.data.schema import ToolSpec
from fical_secure.llm.transformers_backend import TransformersLLM
from fical_secure.tlu.decoding_schema import RequestValues, object_schema
from fical_secure.tlu.fill import INVENTED, FillJob, RuleFiller, SchemaFiller, invented_identifiers
from fical_secure.tlu.hints import ArgumentHint
from fical_secure.tlu.knowledge import Knowledge
from fical_secure.tlu.shapes import expected_shapes, shape_of
from fical_secure.tlu.spans import anchored_numbers, clock_times, numbers, spans

SPECS: list[dict[str, Any]] = [
    {
        "name": "alarm.add",
        "description": "Set a new alarm at a time with an optional label.",
        "parameters": {
            "type": "object",
            "properties": {
                "time": {"type": "string", "description": "Alarm time, formatted as 'HH:MM'."},
                "label": {"type": "string", "description": "The alarm's label."},
            },
            "required": ["time", "label"],
        },
    },
    {
        "name": "travel.book_trip",
        "description": "Book a trip for travellers between two cities.",
        "parameters": {
            "type": "object",
            "properties": {
                "route": {
                    "type": "object",
                    "description": "Where the trip goes.",
                    "properties": {
                        "origin": {"type": "string", "description": "Departure city."},
                        "destination": {
                            "type": "string",
                            "description": "Arrival city, in the format of 'City, ST' such as "
                            "'Berkeley, CA'.",
                        },
                    },
                    "required": ["origin", "destination"],
                },
                "travellers": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Names.",
                },
                "seat_class": {"type": "string", "enum": ["economy", "business", "first"]},
                "num_passengers": {"type": "integer", "minimum": 1, "description": "Passengers."},
            },
            "required": ["route", "travellers", "seat_class", "num_passengers"],
        },
    },
    {
        "name": "weather_get",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city."},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["unit"],
        },
    },
    {
        "name": "thermostat.set",
        "description": "Set the thermostat's mode and fan level.",
        "parameters": {
            "type": "object",
            "properties": {
                "mode": {"type": "string", "enum": ["heat", "cool"]},
                "level": {"type": "integer", "description": "Fan level."},
            },
            "required": ["mode"],
        },
    },
]


@pytest.fixture(scope="module")
def catalogue() -> dict[str, ToolSpec]:
    return {spec.name: spec for spec in catalogue_from_json(SPECS)}


@pytest.mark.parametrize(
    ("request_text", "expected", "absent"),
    [
        ("label it 'Morning workout' please", ["Morning workout", "workout"], ["it 'Morning"]),
        ("fly from San Diego to Los Angeles", ["San Diego", "Los Angeles"], ["from San Diego"]),
        ("", [], [""]),
    ],
)
def test_spans_are_verbatim_runs_without_function_word_edges(
    request_text: str, expected: list[str], absent: list[str]
) -> None:
    found = spans(request_text)
    assert all(e in found for e in expected)
    assert not any(a in found for a in absent)
    assert all(s in request_text for s in found)


def test_numbers_times_and_anchored_numbers() -> None:
    request = "3 bedrooms and 2 bathrooms for four adults at 2 PM or 07:30"
    assert numbers(request)[:3] == [3, 2, 4]  # in order of appearance, each once
    assert clock_times(request) == ["14:00", "07:30"]
    assert anchored_numbers(request, "number_of_beds") == [3]
    assert anchored_numbers(request, "number_of_baths") == [2]
    assert anchored_numbers(request, "numAdults") == [4]
    assert anchored_numbers("nothing here", "beds") == []


def test_shapes_from_doc_templates_and_examples() -> None:
    city = shape_of("Berkeley, CA")
    assert re.fullmatch(city, "San Francisco, CA")
    assert not re.fullmatch(city, "San Francisco")
    assert re.fullmatch(shape_of("YYYY-MM-DD"), "2023-05-15")
    doc = {"description": "The city, such as 'Berkeley, CA'."}
    assert expected_shapes("city", doc) == [f"(?:{city})"]
    assert expected_shapes("notes", {"description": "Free notes about the 'type' field."}) == []


def test_decoding_schema_narrows_strings_and_numbers_keeps_enums_and_nesting(
    catalogue: dict[str, ToolSpec],
) -> None:
    request = "Book business seats for Ann and Bo, 2 passengers, from Oakland to Fresno, CA"
    spec = catalogue["travel.book_trip"]
    schema = object_schema(json.loads(call_schema(spec)), RequestValues.of(request), {})
    assert schema_problems(schema, "decoding schema") == []
    props = schema["properties"]
    assert props["seat_class"]["enum"] == ["economy", "business", "first"]
    assert props["num_passengers"]["enum"] == [2]
    route = props["route"]["properties"]
    assert route["destination"]["enum"] == ["Fresno, CA"]  # the doc's 'City, ST' shape
    assert "Oakland" in route["origin"]["enum"]
    assert all(v in request for v in props["travellers"]["items"]["enum"])
    assert schema["required"] == ["route", "travellers", "seat_class", "num_passengers"]


def test_hints_give_candidates_and_drop_omitted_optionals(catalogue: dict[str, ToolSpec]) -> None:
    spec = catalogue["weather_get"]
    hints = {"city": ArgumentHint("weather_get", "city", normalisations={"nyc": "New York, NY"})}
    values = RequestValues.of("how hot is it in nyc")
    schema = object_schema(json.loads(call_schema(spec)), values, hints)
    assert schema["properties"]["city"]["enum"][0] == "New York, NY"
    omitted = {"city": ArgumentHint("weather_get", "city", omitted=True)}
    schema = object_schema(json.loads(call_schema(spec)), RequestValues.of("city weather"), omitted)
    assert "city" not in schema["properties"]


class _NoModel:
    """A model that must not be asked."""

    def generate_json(self, *_args: Any, **_kwargs: Any) -> list[str]:
        raise AssertionError("the rules settle this job: the model must not be called")


def test_rule_fast_path_makes_no_model_call_for_closed_tools(
    catalogue: dict[str, ToolSpec],
) -> None:
    filler = SchemaFiller(_NoModel())  # type: ignore[arg-type]
    jobs = [FillJob("cool it down, fan level 3", catalogue["thermostat.set"])]
    (fill,) = filler.fill(jobs, Knowledge())
    assert fill.arguments == {"mode": "cool", "level": 3}
    assert filler.model_calls == 0
    assert RuleFiller().fill(jobs, Knowledge())[0] == fill


def test_a_normalised_phrase_is_pinned_and_nothing_left_makes_no_model_call(
    catalogue: dict[str, ToolSpec],
) -> None:
    hint = ArgumentHint("weather_get", "city", normalisations={"nyc": "New York, NY"})
    knowledge = Knowledge(arguments={"weather_get": {"city": hint}})
    job = FillJob("Weather in the city of nyc in fahrenheit?", catalogue["weather_get"])
    filler = SchemaFiller(_NoModel())  # type: ignore[arg-type]
    (fill,) = filler.fill([job], knowledge)
    assert fill.arguments == {"city": "New York, NY", "unit": "fahrenheit"}
    assert filler.model_calls == 0
    model = _CountingModel()  # without the hint the city is left to the model
    (plain,) = SchemaFiller(model).fill([job], Knowledge())  # type: ignore[arg-type]
    assert len(model.asked) == 1 and plain.arguments["city"] == "Paris"


class _CountingModel:
    """Answers every prompt with one fixed valid call and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def generate_json(self, prompts: list[str], *_args: Any, **_kwargs: Any) -> list[str]:
        self.asked.append(list(prompts))
        return ['{"city": "Paris", "unit": "celsius"}' for _ in prompts]


@pytest.mark.parametrize("memoise", [True, False])
def test_a_job_decoded_before_is_not_decoded_again(
    catalogue: dict[str, ToolSpec], memoise: bool
) -> None:
    model = _CountingModel()
    filler = SchemaFiller(model, memoise=memoise)  # type: ignore[arg-type]
    job = FillJob("Weather in the city of Paris in celsius?", catalogue["weather_get"])
    first = filler.fill([job, job], Knowledge())
    again = filler.fill([job], Knowledge())
    assert first[0] == first[1] == again[0]
    assert first[0].arguments == {"city": "Paris", "unit": "celsius"}
    assert filler.model_calls == 3
    if memoise:
        assert [len(a) for a in model.asked] == [1] and filler.memo_hits == 2
    else:
        assert [len(a) for a in model.asked] == [2, 1] and filler.memo_hits == 0


def test_batched_decodes_the_jobs_of_many_fills_in_one_call(
    catalogue: dict[str, ToolSpec],
) -> None:
    model = _CountingModel()
    filler = SchemaFiller(model)  # type: ignore[arg-type]
    paris = FillJob("Weather in the city of Paris in celsius?", catalogue["weather_get"])
    rome = FillJob("Weather in the city of Rome in celsius?", catalogue["weather_get"])

    def both() -> list[Any]:
        return filler.fill([paris], Knowledge()) + filler.fill([rome, paris], Knowledge())

    with filler.batched():
        planned = both()
        assert model.asked == [] and filler.model_calls == 0  # nothing decoded inside
    assert planned == RuleFiller().fill([paris, rome, paris], Knowledge())
    assert [len(a) for a in model.asked] == [2]  # the two distinct jobs, one call
    fills = both()
    assert [len(a) for a in model.asked] == [2]  # every output from the memory
    assert fills[0].arguments == {"city": "Paris", "unit": "celsius"}
    # counted as the unbatched fills count them: three jobs, one repeated
    assert filler.model_calls == 3 and filler.memo_hits == 1


def test_batched_needs_the_memory_and_decodes_nothing_after_an_error(
    catalogue: dict[str, ToolSpec],
) -> None:
    model = _CountingModel()
    with pytest.raises(ValueError, match="memoise"):
        with SchemaFiller(model, memoise=False).batched():  # type: ignore[arg-type]
            pass
    filler = SchemaFiller(model)  # type: ignore[arg-type]
    job = FillJob("Weather in the city of Paris in celsius?", catalogue["weather_get"])
    with pytest.raises(RuntimeError), filler.batched():
        filler.fill([job], Knowledge())
        raise RuntimeError("the caller failed")
    assert model.asked == []
    assert filler.fill([job], Knowledge())[0].arguments == {"city": "Paris", "unit": "celsius"}
    assert model.asked == [[model.asked[0][0]]]  # decoded normally after the failed batch


def _valid(jobs: list[FillJob], fills: list[Any]) -> None:
    for job, fill in zip(jobs, fills, strict=True):
        assert fill.complete
        assert argument_problems(job.spec.name, call_schema(job.spec), fill.arguments) == []


@pytest.mark.slow
def test_batched_calls_validate_and_copy_a_verbatim_span(
    llm: TransformersLLM, catalogue: dict[str, ToolSpec]
) -> None:
    jobs = [
        FillJob("Set an alarm for 7:30 am and label it 'Gym time'.", catalogue["alarm.add"]),
        FillJob("Weather in Paris in celsius?", catalogue["weather_get"]),
    ]
    filler = SchemaFiller(llm, max_new_tokens=32)
    fills = filler.fill(jobs, Knowledge())
    # the weather request gives no evidence for the optional city: nothing left to decode
    assert filler.model_calls == 1 and filler.invalid == 0
    _valid(jobs, fills)
    alarm, weather = (f.arguments for f in fills)
    assert alarm == {"time": "07:30", "label": "Gym time"}  # the quoted span, verbatim
    assert weather["unit"] == "celsius" and weather.get("city", "Paris") == "Paris"


@pytest.mark.slow
def test_nested_object_array_and_enum_call_of_a_dotted_tool_validates(
    llm: TransformersLLM, catalogue: dict[str, ToolSpec]
) -> None:
    job = FillJob(
        "Book business class for Ann Lee and Bo Chen, 2 passengers, from Oakland to Fresno, CA.",
        catalogue["travel.book_trip"],
    )
    filler = SchemaFiller(llm, max_new_tokens=96)
    fills = filler.fill([job], Knowledge())
    assert filler.model_calls == 1 and filler.invalid == 0
    _valid([job], fills)
    trip = fills[0].arguments
    assert trip["seat_class"] == "business" and trip["num_passengers"] == 2
    assert trip["route"]["destination"] == "Fresno, CA"  # type: ignore[index,call-overload]
    assert all(name in job.request for name in trip["travellers"])  # type: ignore[union-attr]


@pytest.mark.slow
def test_hint_normalisation_reaches_the_call(
    llm: TransformersLLM, catalogue: dict[str, ToolSpec]
) -> None:
    spec = catalogue["weather_get"]
    hint = ArgumentHint("weather_get", "city", normalisations={"nyc": "New York, NY"})
    with_hint = Knowledge(arguments={"weather_get": {"city": hint}})
    job = FillJob("What's the weather in nyc in fahrenheit?", spec)
    (fill,) = SchemaFiller(llm, max_new_tokens=32).fill([job], with_hint)
    assert fill.arguments == {"unit": "fahrenheit", "city": "New York, NY"}
    (plain,) = SchemaFiller(llm, max_new_tokens=32).fill([job], Knowledge())
    assert plain.arguments.get("city") != "New York, NY"


@pytest.mark.slow
def test_solver_fills_with_the_schema_filler_and_the_call_runs(
    llm: TransformersLLM, catalogue: dict[str, ToolSpec]
) -> None:
    from fical_secure.tlu.embedding import default_embedder
    from fical_secure.tlu.index import ToolIndex
    from fical_secure.tlu.solver import Solver

    specs = list(catalogue.values())
    filler = SchemaFiller(llm, max_new_tokens=32)
    solver = Solver(ToolIndex(default_embedder(), None, specs), specs, filler=filler)
    (step,) = solver.act(["Set an alarm for 7:30 am and label it 'Gym time'."])
    assert step.tool == "alarm.add" and filler.model_calls == 1
    assert step.call is not None and step.executed
    assert step.call.arguments == {"time": "07:30", "label": "Gym time"}


class _InventingModel:
    """Writes a well-formed MRN whatever the request says (what the packaged model did)."""

    def generate_json(self, prompts: list[str], *_args: Any, **_kwargs: Any) -> list[str]:
        return ['{"mrn": "MRN-1234567", "drug": "amoxicillin"}' for _ in prompts]


def test_an_identifier_the_request_does_not_write_is_left_missing_never_invented() -> None:
    spec = {s.name: s for s in CATALOGUE}["allergy_check"]
    job = FillJob("Is this patient allergic to amoxicillin?", spec)
    (fill,) = SchemaFiller(_InventingModel()).fill([job], Knowledge())  # type: ignore[arg-type]
    assert "mrn" not in fill.arguments
    assert fill.missing == ("mrn",) and fill.reasons["mrn"] == INVENTED
    assert fill.arguments["drug"] == "amoxicillin"
    # the same output for a request that writes the MRN is the request's own value
    written = FillJob("Is MRN-1234567 allergic to amoxicillin?", spec)
    (kept,) = SchemaFiller(_InventingModel()).fill([written], Knowledge())  # type: ignore[arg-type]
    assert kept.arguments["mrn"] == "MRN-1234567" and kept.complete


@pytest.mark.parametrize(
    ("request_text", "invented"),
    [
        ("allergies for mrn 1234567?", []),  # the request's digits, in the pattern's form
        ("allergies for medical record 123-4567?", []),  # one separator closed up
        ("allergies for MRN-7654321?", ["mrn"]),  # another patient's number
        ("allergies for this patient?", ["mrn"]),
        ("allergies, room 12, bed 34567?", ["mrn"]),  # digits, but not these together
    ],
)
def test_invented_identifiers_compares_the_values_digits_with_the_requests(
    request_text: str, invented: list[str]
) -> None:
    spec = {s.name: s for s in CATALOGUE}["allergy_check"]
    arguments = {"mrn": "MRN-1234567", "drug": "amoxicillin"}
    assert invented_identifiers(spec, arguments, request_text) == invented
