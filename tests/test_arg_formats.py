"""Value formats the compendium teaches beyond one tool: the default year of dates written
without one and the usual suffix of names (mined, re-verified, read back), place
normalisations shared by every argument of the same shape, month/day/year rendering, and
one phrase per single value."""

from __future__ import annotations

from typing import Any

import pytest

from fical_secure.data.arg_schema import parameters_schema
from fical_secure.data.schema import ArgSpec, Episode, ToolCall, ToolSpec
from fical_secure.kcg.arguments import ArgumentRules, mine_argument_claims
from fical_secure.kcg.argverify import verify_argument_claim
from fical_secure.kcg.claims import (
    ArgumentShape,
    DefaultYear,
    Normalisation,
    OmittedArgument,
    UsualSuffix,
    claim_entry,
    parse_argument,
    render_claim,
)
from fical_secure.kcg.schema import Compendium
from fical_secure.tlu.args import ArgFill, fill_arguments
from fical_secure.tlu.dates import dates_in
from fical_secure.tlu.decoding_schema import RequestValues, object_schema
from fical_secure.tlu.fill import FillJob, _pinned
from fical_secure.tlu.hints import default_year, hints_for
from fical_secure.tlu.knowledge import Knowledge
from fical_secure.tlu.spans import name_heads, spans

RULES = ArgumentRules(min_support=2)
EVENTS = ToolSpec(
    "events.find",
    "Find events in a city on a date.",
    (ArgSpec("city", "str", "The city"), ArgSpec("date", "str", "The day")),
    "find",
)
BUS = ToolSpec(
    "bus.find",
    "Find a bus between two cities.",
    (
        ArgSpec(
            "from_city", "str", "Origin, in the format of 'City, State', such as 'Berkeley, CA'"
        ),
        ArgSpec("to_city", "str", "Destination, in the format 'City, State' such as 'Austin, TX'"),
        ArgSpec("departure_date", "str", "Date of travel, in the format 'MM/DD/YYYY'"),
        ArgSpec("note", "str", "Anything else", required=False),
    ),
    "find",
)
CATALOGUE = (EVENTS, BUS)


def _ep(i: int, request: str, args: dict[str, Any], subject: str) -> Episode:
    call = ToolCall("events.find", args)
    return Episode(f"e{i}", "h01", request, call, "ok", "ok", "member", subject=subject)


def _events(subjects: list[str], year: str = "2023") -> list[Episode]:
    asks = ("Shows in Boston, MA on March 7th?", "Any gigs in Austin, TX on the 9th of May")
    days = ("03-07", "05-09")
    cities = ("Boston, MA", "Austin, TX")
    eps = [
        _ep(i, asks[i % 2], {"city": cities[i % 2], "date": f"{year}-{days[i % 2]}"}, s)
        for i, s in enumerate(subjects)
    ]
    # a request that gives its year says nothing about the default
    eps.append(
        _ep(
            9,
            "Events in Boston, MA on 2021-01-02",
            {"city": "Boston, MA", "date": "2021-01-02"},
            "z",
        )
    )
    return eps


def test_the_default_year_is_mined_from_k_subjects_and_reverified() -> None:
    eps = _events(["a", "b"])
    claims = mine_argument_claims(eps, CATALOGUE, rules=RULES)
    year = DefaultYear("events.find", "date", 2023)
    assert year in claims
    assert verify_argument_claim(year, eps, CATALOGUE, RULES) == 2
    assert (
        verify_argument_claim(DefaultYear("events.find", "date", 2021), eps, CATALOGUE, RULES)
        is None
    )
    assert (
        verify_argument_claim(DefaultYear("events.find", "city", 2023), eps, CATALOGUE, RULES)
        is None
    )


def test_one_subject_or_a_split_year_makes_no_default_year_claim() -> None:
    assert not [
        c
        for c in mine_argument_claims(_events(["a", "a", "a"]), CATALOGUE, rules=RULES)
        if isinstance(c, DefaultYear)
    ]
    split = _events(["a", "b"]) + _events(["c", "d"], year="2024")
    assert not [
        c for c in mine_argument_claims(split, CATALOGUE, rules=RULES) if isinstance(c, DefaultYear)
    ]


def test_the_default_year_renders_as_a_sentence_that_parses_back() -> None:
    claim = DefaultYear("events.find", "date", 2023)
    text = render_claim(claim)
    assert text == (
        "Where a request gives a date without its year, calls write `date` with year number 2023."
    )
    assert parse_argument("events.find", text) == claim
    assert parse_argument("events.find", text.replace("2023", "20x3")) is None


def _knowledge(*claims: Any) -> Knowledge:
    return Knowledge.from_compendium(Compendium("global", tuple(claim_entry(c) for c in claims)))


@pytest.mark.parametrize(
    ("request_text", "dates"),
    [
        ("trip on May 15th. Leave at 2 PM", ["2023-05-15"]),
        ("Apr the 5th, please", ["2023-04-05"]),
        ("for the 10th of march", ["2023-03-10"]),
        ("on March 4th 2024", ["2024-03-04"]),  # a year written wins
        ("May I book 2 seats?", []),
        ("from 5 to 7 people", []),
    ],
)
def test_year_less_dates_read_only_with_a_known_year(request_text: str, dates: list[str]) -> None:
    assert dates_in(request_text, year=2023) == dates
    assert dates_in(request_text) == [d for d in dates if d.startswith("2024")]


def test_the_known_year_reaches_every_tool_and_dates_take_the_shape_calls_write() -> None:
    knowledge = _knowledge(DefaultYear("events.find", "date", 2023))
    assert default_year(knowledge.arguments) == 2023
    # the bus tool has no claim of its own: its docs ask for month/day/year
    values = RequestValues.of("Bus from Fresno, CA to Austin, TX on March 4th", 2023)
    schema = object_schema(
        {
            "properties": {
                "departure_date": {
                    "type": "string",
                    "description": "Date of travel, in the format 'MM/DD/YYYY'",
                }
            },
            "required": ["departure_date"],
        },
        values,
        {},
    )
    assert schema["properties"]["departure_date"]["enum"] == ["03/04/2023"]
    hints = {
        "date": _knowledge(ArgumentShape("events.find", "date", "slash_date")).arguments[
            "events.find"
        ]["date"]
    }
    fill = fill_arguments("Events in Boston, MA on March 7th", EVENTS, hints=hints, year=2023)
    assert fill.arguments["date"] == "03/07/2023"
    assert (
        "date"
        not in fill_arguments("Events in Boston, MA on March 7th", EVENTS, hints=hints).arguments
    )


def test_a_place_normalisation_serves_other_tools_arguments_of_that_shape() -> None:
    knowledge = _knowledge(
        Normalisation("events.find", "city", "san francisco", '"San Francisco, CA"'),
        Normalisation("events.find", "city", "york", '"New York, NY"'),
        Normalisation("events.find", "city", "offer", '"Paris, FR"'),  # unrelated: not shared
        Normalisation("events.find", "date", "10th", '"2023-03-10"'),
    )
    hints = hints_for(knowledge.arguments, BUS)
    assert dict(hints["from_city"].normalisations) == {
        "san francisco": "San Francisco, CA",
        "york": "New York, NY",
    }
    assert "note" not in hints and "departure_date" not in hints  # no place shape
    fill = fill_arguments("Bus from San Francisco to New York on 2023-03-01", BUS, hints=hints)
    assert fill.arguments["from_city"] == "San Francisco, CA"
    assert fill.arguments["to_city"] == "New York, NY"  # the first phrase is from_city's only
    assert hints_for(Knowledge().arguments, BUS) == {}


def _cities(subjects: list[str], suffix: str = ", CA") -> list[Episode]:
    heads = ("Fresno", "Berkeley", "Oakland")
    return [
        _ep(
            i,
            f"Events in {heads[i % 3]} on 2023-01-0{i + 1}",
            {"city": f"{heads[i % 3]}{suffix}", "date": f"2023-01-0{i + 1}"},
            s,
        )
        for i, s in enumerate(subjects)
    ]


def test_the_usual_suffix_is_mined_from_k_subjects_and_reverified() -> None:
    eps = _cities(["a", "b"])
    suffix = UsualSuffix("events.find", "city", ", CA")
    assert suffix in mine_argument_claims(eps, CATALOGUE, rules=RULES)
    assert verify_argument_claim(suffix, eps, CATALOGUE, RULES) == 2
    wrong = UsualSuffix("events.find", "city", ", NY")
    assert verify_argument_claim(wrong, eps, CATALOGUE, RULES) is None
    one = _cities(["a", "a", "a"])
    assert not [
        c for c in mine_argument_claims(one, CATALOGUE, rules=RULES) if isinstance(c, UsualSuffix)
    ]
    text = render_claim(suffix)
    assert text == 'Where a request gives only the first part of `city`, calls add ", CA" to it.'
    assert parse_argument("events.find", text) == suffix


@pytest.mark.parametrize(
    ("request_text", "heads"),
    [
        ("A bus to Fresno, departing on March 4th", ["Fresno"]),
        ("A bus from Fresno, CA to Long Beach today", ["Long Beach"]),
        ("Gigs in Toronto. Find one for me on Monday", ["Toronto"]),
        ("Find me a show", []),
        ("Gigs in Toronto, Canada next week", []),
    ],
)
def test_name_heads_are_mid_sentence_names_without_a_suffix(
    request_text: str, heads: list[str]
) -> None:
    assert name_heads(request_text) == heads


def test_a_learned_suffix_completes_the_name_the_request_gives() -> None:
    knowledge = _knowledge(
        UsualSuffix("events.find", "city", ", CA"),
        Normalisation("events.find", "city", "los angeles", '"Los Angeles, CA"'),
        ArgumentShape("bus.find", "to_city", "city_state"),
    )
    hints = hints_for(knowledge.arguments, BUS)
    assert hints["to_city"].suffix == ", CA" and "departure_date" not in hints
    request = "A bus from Los Angeles to Fresno on 2023-03-01"
    fill = fill_arguments(request, BUS, hints=hints)
    assert (fill.arguments["from_city"], fill.arguments["to_city"]) == (
        "Los Angeles, CA",
        "Fresno, CA",
    )
    assert "to_city" not in fill_arguments(request, BUS).arguments
    schema = object_schema(
        {"properties": {"to_city": {"type": "string"}}, "required": ["to_city"]},
        RequestValues.of(request),
        hints,
    )
    assert "Fresno, CA" in schema["properties"]["to_city"]["enum"]


def test_spans_stop_at_a_clause_end_but_keep_places_and_abbreviations() -> None:
    found = spans("A bus to Fresno, departing on March 4th. Then St. Louis, MO at 4 p.m. today")
    assert "Fresno" in found and "St. Louis, MO" in found and "at 4 p.m" not in found
    assert not [s for s in found if "Fresno, departing" in s or "4th. Then" in s]


def test_an_optional_usually_left_out_is_decoded_where_the_request_names_it() -> None:
    hints = _knowledge(OmittedArgument("events.find", "has_garage")).arguments["events.find"]
    schema = {
        "properties": {"has_garage": {"type": "boolean"}, "pool": {"type": "boolean"}},
        "required": [],
    }
    named = object_schema(schema, RequestValues.of("A house with a garage"), hints)
    assert list(named["properties"]) == ["has_garage"]
    assert not object_schema(schema, RequestValues.of("A house, please"), hints)["properties"]


def test_a_suffix_crosses_only_to_an_argument_whose_own_calls_write_that_shape() -> None:
    # to_city's docs ask for "City, State", but only its own released shape is evidence
    shared = _knowledge(UsualSuffix("events.find", "city", ", CA"))
    assert "to_city" not in hints_for(shared.arguments, BUS)
    shaped = _knowledge(
        UsualSuffix("events.find", "city", ", CA"),
        ArgumentShape("bus.find", "from_city", "city_state"),
    )
    hints = hints_for(shaped.arguments, BUS)
    assert hints["from_city"].suffix == ", CA" and "to_city" not in hints


def test_calls_writing_the_head_as_given_count_against_a_suffix() -> None:
    added = _cities(["a", "b"])  # "Events in Fresno" -> "Fresno, CA"
    bare = [
        _ep(10 + i, f"Events in {city} on 2023-02-0{i + 1}", {"city": city}, s)
        for i, (city, s) in enumerate([("Portland", "c"), ("Nairobi", "d"), ("Marshall", "e")])
    ]
    claims = mine_argument_claims(added + bare, CATALOGUE, rules=RULES)
    assert not [c for c in claims if isinstance(c, UsualSuffix)]
    suffix = UsualSuffix("events.find", "city", ", CA")
    assert verify_argument_claim(suffix, added + bare, CATALOGUE, RULES) is None
    assert verify_argument_claim(suffix, added + bare[:1], CATALOGUE, RULES) == 2


def test_a_span_the_request_writes_in_the_expected_shape_is_never_pushed_out() -> None:
    hints = _knowledge(
        ArgumentShape("events.find", "city", "city_state"),
        UsualSuffix("events.find", "city", ", NY"),
    ).arguments["events.find"]
    prop = {"type": "string", "description": "The city, in the format of 'City, State'"}
    schema = {"properties": {"city": prop}, "required": ["city"]}
    request = "I'm in Toronto, Canada and want a Music event"
    pool = object_schema(schema, RequestValues.of(request), hints)["properties"]["city"]["enum"]
    assert "Toronto, Canada" in pool  # the docs' shape, written by the request
    only_head = "Any Music events in Fresno?"
    pool = object_schema(schema, RequestValues.of(only_head), hints)["properties"]["city"]["enum"]
    assert pool == ["Fresno, NY"]  # nothing written fits: the completed name


def test_only_the_tools_own_normalisations_pin_and_a_pinned_value_fills_one_argument() -> None:
    knowledge = _knowledge(
        Normalisation("events.find", "city", "berkeley", '"Berkeley, CA"'),
        Normalisation("bus.find", "to_city", "berkeley", '"Berkeley, CA"'),
    )
    request = "A bus from Anaheim, CA to Berkeley, CA on 2023-04-10"
    job = FillJob(request, BUS)
    rule = ArgFill({"from_city": "Berkeley, CA", "to_city": "Berkeley, CA"}, ())
    pinned = _pinned(job, rule, knowledge.arguments["bus.find"])
    assert pinned == {"to_city": "Berkeley, CA"}  # from_city's "berkeley" is only lent
    hints = hints_for(knowledge.arguments, BUS)
    schema = object_schema(parameters_schema(BUS), RequestValues.of(request), hints, pinned=pinned)
    assert schema["properties"]["from_city"]["enum"] == ["Anaheim, CA"]


def test_an_optional_usually_left_out_enters_where_the_request_names_it_with_a_value() -> None:
    hints = _knowledge(
        OmittedArgument("events.find", "album"),
        OmittedArgument("events.find", "rating"),
        OmittedArgument("events.find", "has_laundry"),
        OmittedArgument("events.find", "price_range"),
    ).arguments["events.find"]
    schema = {
        "properties": {
            "album": {"type": "string"},
            "rating": {"type": "number"},
            "has_laundry": {"type": "string", "enum": ["True", "False", "dontcare"]},
            "price_range": {"type": "string", "enum": ["cheap", "moderate"]},
        },
        "required": [],
    }
    named = object_schema(
        schema,
        RequestValues.of(
            "Songs from the album Halcyon; rating of 4.1 with laundry; any price range"
        ),
        hints,
    )
    assert list(named["properties"]) == ["album", "rating", "has_laundry"]
    assert named["properties"]["rating"]["enum"] == [4.1]
    unnamed = object_schema(schema, RequestValues.of("A rating, please"), hints)
    assert not unnamed["properties"]  # named, but no number for it
