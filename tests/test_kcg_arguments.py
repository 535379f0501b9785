"""Argument claims: k distinct subjects, each kind mined, re-verified, rendered and parsed back."""

from __future__ import annotations

from typing import Any

import pytest

from fical_secure.data.schema import ArgSpec, Episode, ToolCall, ToolSpec
from fical_secure.kcg.arguments import ArgumentRules, mine_argument_claims
from fical_secure.kcg.argverify import verify_argument_claim
from fical_secure.kcg.claims import (
    ArgumentShape,
    Normalisation,
    OmittedArgument,
    UsualValue,
    claim_entry,
    entry_claims,
    keep_validated,
    parse_any,
    parse_argument,
    render_claim,
)
from fical_secure.kcg.knowledge import build_knowledge
from fical_secure.kcg.schema import Compendium
from fical_secure.scrub.known import KnownIdentifiers
from fical_secure.tlu.knowledge import Knowledge

RULES = ArgumentRules(min_support=2)
WEATHER = ToolSpec(
    "weather.get",
    "Current weather for a place.",
    (
        ArgSpec("location", "str", "City and state, e.g. Boston, MA"),
        ArgSpec("units", "str", "Temperature units", required=False),
        ArgSpec("days", "int", "Days ahead", required=False),
    ),
    "forecast",
)
TRIP = ToolSpec(
    "trip.plan",
    "Plan a trip.",
    (
        ArgSpec(
            "stops",
            "array",
            "Stops",
            items=ArgSpec("item", "object", "a stop", fields=(ArgSpec("city", "str", "city"),)),
        ),
        ArgSpec(
            "prefs",
            "object",
            "Preferences",
            required=False,
            fields=(
                ArgSpec("currency", "str", "currency", required=False),
                ArgSpec("seat", "str", "seat", required=False),
            ),
        ),
    ),
    "plan",
)
CATALOGUE = (WEATHER, TRIP)


def _ep(i: int, request: str, tool: str, args: dict[str, Any], subject: str = "") -> Episode:
    call = ToolCall(tool, args)
    return Episode(f"e{i}", "h01", request, call, "ok", "ok", "member", subject=subject or f"s{i}")


def _weather(subjects: list[str]) -> list[Episode]:
    """Requests about nyc (one per subject) and three other cities; units always celsius."""
    asks = ("Is it cold in nyc today?", "nyc forecast tonight", "Rain over nyc now?")
    eps = [
        _ep(i, ask, "weather.get", {"location": "New York, NY"}, s)
        for i, (s, ask) in enumerate(zip(subjects, asks, strict=False))
    ]
    others = (("Boston, MA", "Boston, MA"), ("Austin, TX", "Austin, TX"), ("Denver, CO", "Denver"))
    eps += [
        _ep(10 + i, f"Weather for {said} please", "weather.get", {"location": city})
        for i, (city, said) in enumerate(others)
    ]
    for e in eps:
        e.call.arguments["units"] = "celsius"
    return eps


def _mined(episodes: list[Episode], known: KnownIdentifiers | None = None) -> set[Any]:
    return set(mine_argument_claims(episodes, CATALOGUE, rules=RULES, known=known))


NYC = Normalisation("weather.get", "location", "nyc", '"New York, NY"')
CELSIUS = UsualValue("weather.get", "units", '"celsius"')


def test_each_kind_is_mined_and_verifies_with_its_subject_support() -> None:
    episodes = _weather(["a", "b"])
    claims = _mined(episodes)
    assert {
        NYC,
        CELSIUS,
        OmittedArgument("weather.get", "days"),
        ArgumentShape("weather.get", "location", "city_state"),
    } <= claims
    assert verify_argument_claim(NYC, episodes, CATALOGUE, RULES) == 2
    assert verify_argument_claim(CELSIUS, episodes, CATALOGUE, RULES) == 5


def test_a_claim_needs_k_distinct_subjects_not_episodes() -> None:
    assert NYC in _mined(_weather(["a", "b"]))
    one_person = _weather(["same", "same", "same"])  # three episodes, one subject
    assert NYC not in _mined(one_person)
    assert verify_argument_claim(NYC, one_person, CATALOGUE, RULES) is None
    at_k_minus_one = _weather(["a"])
    assert NYC not in _mined(at_k_minus_one)
    three = ArgumentRules(min_support=3)
    assert NYC in mine_argument_claims(_weather(["a", "b", "c"]), CATALOGUE, rules=three)
    assert NYC not in mine_argument_claims(_weather(["a", "b"]), CATALOGUE, rules=three)


def test_usual_value_needs_most_silent_calls_and_not_the_request() -> None:
    episodes = _weather(["a", "b"])
    for e in episodes[2:]:
        e.call.arguments["units"] = "fahrenheit"  # now only 2 of 5 silent calls say celsius
    assert CELSIUS not in _mined(episodes)
    said = _weather(["a", "b"])
    said = [
        _ep(20 + i, e.request + " in celsius", e.call.tool, e.call.arguments)
        for i, e in enumerate(said)
    ]
    assert CELSIUS not in _mined(said)  # every request writes it: nothing usual to learn


def test_reverification_drops_a_claim_the_data_no_longer_supports() -> None:
    episodes = _weather(["a", "b"])
    assert verify_argument_claim(NYC, episodes, CATALOGUE, RULES) == 2
    changed = [
        _ep(30 + i, e.request, e.call.tool, {**e.call.arguments, "location": "Newark, NJ"})
        if "nyc" in e.request
        else e
        for i, e in enumerate(episodes)
    ]
    assert verify_argument_claim(NYC, changed, CATALOGUE, RULES) is None
    optional_now_used = [
        _ep(40 + i, e.request, e.call.tool, {**e.call.arguments, "days": 1})
        for i, e in enumerate(episodes)
    ]
    days = OmittedArgument("weather.get", "days")
    assert verify_argument_claim(days, optional_now_used, CATALOGUE, RULES) is None
    required = OmittedArgument("weather.get", "location")
    assert verify_argument_claim(required, episodes, CATALOGUE, RULES) is None


def test_no_claim_shares_a_token_with_a_known_identifier() -> None:
    episodes = _weather(["a", "b"])
    known = KnownIdentifiers().extend([("PERSON", "Nyc Okafor")])
    assert NYC not in _mined(episodes, known)
    assert verify_argument_claim(NYC, episodes, CATALOGUE, RULES, known) is None
    by_value = KnownIdentifiers().extend([("STREET_ADDRESS", "12 York Road, Leeds")])
    assert NYC not in _mined(episodes, by_value)  # "york" is a word of a known address


def test_no_claim_spells_out_most_of_one_request() -> None:
    episodes = [
        _ep(i, "nyc weather", "weather.get", {"location": "New York, NY"}, f"s{i}")
        for i in range(3)
    ]
    assert not [c for c in _mined(episodes) if isinstance(c, Normalisation)]


def test_nested_object_members_and_array_items_get_dotted_paths() -> None:
    stops = (("Paris", "Rome"), ("Lyon", "Rome"), ("Nice", "Bern"))
    country = {"Paris": "France", "Lyon": "France", "Nice": "France", "Rome": "Italy"}
    episodes = [
        _ep(
            i,
            f"Plan {a} and {b} for me",
            "trip.plan",
            {
                "stops": [{"city": f"{c}, {country.get(c, 'Switzerland')}"} for c in (a, b)],
                "prefs": {"currency": "EUR"},
            },
        )
        for i, (a, b) in enumerate(stops)
    ]
    claims = _mined(episodes)
    assert ArgumentShape("trip.plan", "stops.city", "city_country") in claims
    assert UsualValue("trip.plan", "prefs.currency", '"EUR"') in claims
    assert OmittedArgument("trip.plan", "prefs.seat") in claims
    assert Normalisation("trip.plan", "stops.city", "rome", '"Rome, Italy"') in claims


CLAIMS = (
    ArgumentShape("weather.get", "location", "city_state"),
    UsualValue("weather.get", "units", '"celsius"'),
    UsualValue("trip.plan", "prefs.currency", '["EUR", "USD"]'),
    UsualValue("weather.get", "days", "3"),
    OmittedArgument("trip.plan", "prefs.seat"),
    Normalisation("weather.get", "location", "nyc", '"New York, NY"'),
)


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: type(c).__name__)
def test_each_claim_renders_as_one_sentence_that_parses_back(claim: Any) -> None:
    text = render_claim(claim)
    assert text.endswith(".") and text.count(". ") == 0
    assert parse_argument(claim.tool, text) == claim
    assert parse_any(claim.tool, text) == claim
    assert entry_claims([claim_entry(claim)]) == [claim]


def test_sentences_read_plainly_and_malformed_ones_are_refused() -> None:
    assert render_claim(CLAIMS[1]) == (
        'Calls usually set `units` to "celsius" when the request does not say.'
    )
    assert (
        render_claim(CLAIMS[0])
        == "Calls write `location` as a place: a city, a comma and a two-letter state code."
    )
    assert (
        render_claim(CLAIMS[5])
        == 'Where a request says "nyc", calls set `location` to "New York, NY".'
    )
    for text in (
        "Calls write `location` as a zebra.",  # no such shape
        "Calls usually set `units` to 'celsius' when the request does not say.",  # not JSON
        'Calls usually set `units` to {"b":1} when the request does not say.',  # not canonical
        'Where a request says "NYC", calls set `location` to "New York, NY".',  # not lower case
        'Where a request says "<LOCATION>", calls set `location` to "<LOCATION>".',
    ):
        claim = parse_argument("weather.get", text)
        assert claim is None or claim not in CLAIMS, text


def test_build_knowledge_releases_argument_entries_the_agent_reads_as_hints() -> None:
    episodes = _weather(["a", "b"])
    compendium = build_knowledge(episodes, CATALOGUE, None, client_id="h01", progress=False)
    claims = entry_claims(compendium.entries)
    assert NYC in claims and CELSIUS in claims
    assert compendium.meta["argument_claims"] >= 4
    assert keep_validated(compendium.entries, compendium.entries) == compendium.entries
    hints = Knowledge.from_compendium(compendium).arguments["weather.get"]
    assert hints["units"].usual_value == "celsius"
    assert hints["location"].normalisations == {"nyc": "New York, NY"}
    assert hints["location"].shape_text == "a place: a city, a comma and a two-letter state code"
    assert hints["days"].omitted and hints["days"].usual_value is None


def test_conflicting_usual_values_of_equal_support_give_no_hint() -> None:
    other = UsualValue("weather.get", "units", '"fahrenheit"')
    tie = Compendium("g", (claim_entry(CELSIUS), claim_entry(other)))
    assert Knowledge.from_compendium(tie).arguments["weather.get"]["units"].usual_value is None
    backed = claim_entry(CELSIUS)
    more = Compendium(
        "g", (backed.__class__(**{**backed.__dict__, "support": 2}), claim_entry(other))
    )
    assert (
        Knowledge.from_compendium(more).arguments["weather.get"]["units"].usual_value == "celsius"
    )
