"""The rule filler applies released argument knowledge: each hint kind, and through the solver."""

from __future__ import annotations

from fical_secure.data.schema import ArgSpec, Episode, ToolCall, ToolSpec
from fical_secure.kcg.claims import (
    ArgumentShape,
    Normalisation,
    OmittedArgument,
    UsualValue,
    claim_entry,
)
from fical_secure.kcg.knowledge import build_knowledge
from fical_secure.kcg.schema import Compendium
from fical_secure.kcg.shapes import BY_NAME
from fical_secure.tlu.args import fill_arguments
from fical_secure.tlu.embedding import default_embedder
from fical_secure.tlu.hints import ArgumentHint
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.knowledge import Knowledge
from fical_secure.tlu.solver import Solver

WEATHER = ToolSpec(
    "weather.get",
    "Current weather for a place.",
    (
        ArgSpec("location", "str", "City and state"),
        ArgSpec("units", "enum", "Temperature units", ("celsius", "fahrenheit"), required=False),
        ArgSpec("date", "str", "Day of the forecast", required=False),
        ArgSpec("days", "int", "Days ahead", required=False),
    ),
    "forecast",
)
TOOL = "weather.get"


def _hints(*claims: object) -> dict[str, ArgumentHint]:
    entries = tuple(claim_entry(c) for c in claims)  # type: ignore[arg-type]
    return Knowledge.from_compendium(Compendium("global", entries)).arguments[TOOL]


def test_a_normalisation_writes_the_value_calls_used_for_the_phrase() -> None:
    hints = _hints(Normalisation(TOOL, "location", "nyc", '"New York, NY"'))
    assert fill_arguments("Weather in NYC?", WEATHER).arguments.get("location") is None
    assert fill_arguments("Weather in NYC?", WEATHER, hints=hints).arguments["location"] == (
        "New York, NY"
    )
    assert "location" not in fill_arguments("Weather in Boston?", WEATHER, hints=hints).arguments


def test_a_normalisation_to_a_list_or_object_is_not_applied() -> None:
    hints = _hints(Normalisation(TOOL, "location", "nyc", '["New York", "NY"]'))
    fill = fill_arguments("Weather in NYC?", WEATHER, hints=hints)
    assert "location" not in fill.arguments and fill.missing == ("location",)


def test_a_shape_picks_the_request_span_of_that_shape() -> None:
    hints = _hints(
        ArgumentShape(TOOL, "location", "city_state"), ArgumentShape(TOOL, "date", "iso_date")
    )
    fill = fill_arguments("Any rain in Santa Rosa, CA on May 3, 2024?", WEATHER, hints=hints)
    assert fill.arguments["location"] == "Santa Rosa, CA"
    assert fill.arguments["date"] == "2024-05-03"  # another date style, written as the shape says
    plain = fill_arguments("Any rain in Santa Rosa, CA on May 3, 2024?", WEATHER)
    assert "location" not in plain.arguments and "date" not in plain.arguments
    none = fill_arguments("Any rain in santa rosa today?", WEATHER, hints=hints)
    assert "location" not in none.arguments


def test_a_quoted_span_of_the_shape_fills_a_free_text_argument() -> None:
    spec = ToolSpec(
        "movies.buy",
        "Buy cinema tickets.",
        (ArgSpec("movie_name", "str", "Title"), ArgSpec("count", "int", "Tickets")),
        "tickets",
    )
    book = Compendium("g", (claim_entry(ArgumentShape("movies.buy", "movie_name", "title_words")),))
    hints = Knowledge.from_compendium(book).arguments["movies.buy"]
    request = "I'm after 4 tickets for 'Toy Story 4' tonight"
    fill = fill_arguments(request, spec, hints=hints)
    assert fill.arguments == {"movie_name": "Toy Story 4", "count": 4}
    assert "movie_name" not in fill_arguments(request, spec).arguments
    lower = fill_arguments("tickets for 'toy story' tonight", spec, hints=hints)
    assert "movie_name" not in lower.arguments  # a quoted span without the shape is no candidate


def test_a_usual_value_fills_only_what_the_request_leaves_open() -> None:
    hints = _hints(UsualValue(TOOL, "units", '"celsius"'))
    assert fill_arguments("Weather in Oslo?", WEATHER, hints=hints).arguments["units"] == "celsius"
    said = fill_arguments("Weather in Oslo in fahrenheit?", WEATHER, hints=hints)
    assert said.arguments["units"] == "fahrenheit"
    assert "units" not in fill_arguments("Weather in Oslo?", WEATHER).arguments


def test_an_optional_usually_left_out_takes_no_stray_number() -> None:
    hints = _hints(OmittedArgument(TOOL, "days"))
    request = "Weather at gate 3 in Oslo"
    assert fill_arguments(request, WEATHER).arguments["days"] == 3  # the first free number
    assert "days" not in fill_arguments(request, WEATHER, hints=hints).arguments
    explicit = fill_arguments("Oslo weather, days 3", WEATHER, hints=hints)
    assert explicit.arguments["days"] == 3  # its cue word still fills it


def test_hints_from_two_sources_keep_what_they_agree_on() -> None:
    a = Knowledge.from_compendium(
        Compendium("a", (claim_entry(Normalisation(TOOL, "location", "nyc", '"New York, NY"')),))
    )
    b = Knowledge.from_compendium(
        Compendium(
            "b",
            (
                claim_entry(Normalisation(TOOL, "location", "nyc", '"New York City"')),
                claim_entry(Normalisation(TOOL, "location", "la", '"Los Angeles, CA"')),
                claim_entry(ArgumentShape(TOOL, "location", "city_state")),
            ),
        )
    )
    hint = a.merged(b).arguments[TOOL]["location"]
    assert hint.normalisations == {"la": "Los Angeles, CA"}
    assert hint.shape == BY_NAME["city_state"].pattern


def _ep(i: int, request: str, args: dict[str, object]) -> Episode:
    return Episode(f"e{i}", "h01", request, ToolCall(TOOL, args), "ok", "ok", "member")  # type: ignore[arg-type]


def test_the_solver_fills_a_call_from_mined_and_released_argument_knowledge() -> None:
    episodes = [
        _ep(0, "Is it cold in nyc today?", {"location": "New York, NY", "units": "celsius"}),
        _ep(1, "nyc forecast tonight", {"location": "New York, NY", "units": "celsius"}),
        _ep(2, "Weather for Boston, MA please", {"location": "Boston, MA", "units": "celsius"}),
        _ep(3, "Rain in Austin, TX?", {"location": "Austin, TX", "units": "celsius"}),
    ]
    compendium = build_knowledge(episodes, (WEATHER,), None, client_id="h01", progress=False)
    knowledge = Knowledge.from_compendium(compendium)
    index = ToolIndex(default_embedder(), compendium, (WEATHER,))
    requests = ["Will nyc see snow this week?", "Sunny in Tucson, AZ?"]
    steps = Solver(index, (WEATHER,), knowledge).act(requests, tools=[TOOL, TOOL])
    assert [s.fill.arguments for s in steps] == [
        {"location": "New York, NY", "units": "celsius"},
        {"location": "Tucson, AZ", "units": "celsius"},
    ]
    assert all(s.executed for s in steps)
    docs_only = Solver(index, (WEATHER,)).act(requests, tools=[TOOL, TOOL])
    assert not any(s.executed for s in docs_only)  # location is required and never filled
