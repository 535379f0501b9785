"""Tool-selection cues: k distinct subjects, precision, no identifiers, no reproduced request."""

from __future__ import annotations

from fical_secure.aggregate.merge import aggregate
from fical_secure.data.schema import Episode, ToolCall
from fical_secure.kcg.claims import ToolCue, claim_entry, entry_claims, parse_cue, render_claim
from fical_secure.kcg.cues import CueRules, mine_cues, verify_cue
from fical_secure.kcg.knowledge import build_knowledge
from fical_secure.kcg.schema import Compendium
from fical_secure.scrub.known import KnownIdentifiers
from fical_secure.stats import Z95

# the point estimate of precision: these fixtures have two or three requests a tool
RULES = CueRules(min_support=2, precision_z=0.0)


def _ep(i: int, request: str, tool: str, subject: str | None = None) -> Episode:
    call = ToolCall(tool, {})
    return Episode(f"e{i}", "h01", request, call, "ok", "ok", "member", subject=subject or f"s{i}")


def _weather(subjects: list[str]) -> list[Episode]:
    eps = [
        _ep(i, f"Will there be rain tomorrow near site {i}, Lisbon office?", "weather.get", s)
        for i, s in enumerate(subjects)
    ]
    eps += [_ep(10, "Book a table for two at the Lisbon office canteen", "restaurant.book")]
    eps += [_ep(11, "Reserve a table near the station", "restaurant.book")]
    return eps


def _phrases(cues: list[ToolCue], tool: str) -> set[str]:
    return {p for c in cues if c.tool == tool for p in c.phrases}


def test_a_cue_is_mined_from_k_distinct_subjects_and_verifies() -> None:
    cues = mine_cues(_weather(["a", "b"]), rules=RULES)
    assert "rain" in _phrases(cues, "weather.get")
    cue = next(c for c in cues if c.tool == "weather.get")
    assert verify_cue(cue, _weather(["a", "b"]), RULES) == 2


def test_one_subject_seen_k_times_gives_no_cue() -> None:
    episodes = _weather(["same", "same", "same"])
    assert _phrases(mine_cues(episodes, rules=RULES), "weather.get") == set()
    forged = ToolCue("weather.get", ("rain tomorrow",))
    assert verify_cue(forged, episodes, RULES) is None


def test_a_low_precision_phrase_is_refused() -> None:
    episodes = _weather(["a", "b"])
    weather = _phrases(mine_cues(episodes, rules=RULES), "weather.get")
    assert "lisbon office" not in weather  # also in a restaurant.book request: precision 2/3
    assert "table" in _phrases(mine_cues(episodes, rules=RULES), "restaurant.book")
    low = ToolCue("weather.get", ("lisbon office",))
    assert verify_cue(low, episodes, RULES) is None


def test_a_phrase_sharing_a_token_with_a_known_identifier_is_refused() -> None:
    known = KnownIdentifiers().extend([("PERSON", "Tomorrow Okafor")])
    episodes = _weather(["a", "b"])
    weather = _phrases(mine_cues(episodes, rules=RULES, known=known), "weather.get")
    assert weather and not any("tomorrow" in p for p in weather)
    forged = ToolCue("weather.get", ("rain tomorrow",))
    assert verify_cue(forged, episodes, RULES, known) is None


def test_no_entry_spells_out_most_of_one_request() -> None:
    episodes = [_ep(i, "heavy rain alert", "weather.get") for i in range(3)] + [
        _ep(5, "table for two", "restaurant.book")
    ]
    kept = _phrases(mine_cues(episodes, rules=RULES), "weather.get")
    assert len(kept) == 1 and kept < {"heavy", "rain", "alert"}  # three words would spell it out
    whole = ToolCue("weather.get", ("heavy rain alert",))
    assert verify_cue(whole, episodes, RULES) is None


def test_cue_entry_sentence_parses_back_and_merges_across_hospitals() -> None:
    cue = ToolCue("weather.get", ("rain tomorrow", "forecast"))
    text = render_claim(cue)
    assert text == 'Requests that mention "rain tomorrow" or "forecast" usually call this tool.'
    assert parse_cue("weather.get", text) == cue
    assert parse_cue("weather.get", text.replace("forecast", "<PERSON>")) is None
    entry = claim_entry(cue)
    assert entry_claims([entry]) == [cue]
    both = aggregate([Compendium("c01", (entry,)), Compendium("c02", (entry,))], min_support=2)
    # the server writes a tool's phrases back sorted, one entry per support level
    merged = render_claim(ToolCue("weather.get", ("forecast", "rain tomorrow")))
    assert [(e.text, e.support) for e in both.entries] == [(merged, 2)]


def _rain(n: int) -> list[Episode]:
    """``n`` subjects asking about rain (weather.get), two restaurant bookings."""
    eps = [_ep(i, f"Is rain likely at site {i} tomorrow?", "weather.get") for i in range(n)]
    eps += [_ep(100, "Book a table for two", "restaurant.book")]
    return [*eps, _ep(101, "Reserve a table near the station", "restaurant.book")]


def test_a_cue_seen_in_a_handful_of_requests_needs_its_precision_bound() -> None:
    # 3 of 3 requests with "rain" call weather.get: precision 1.0, Wilson 95% lower bound 0.44
    bounded = CueRules(min_precision=0.6, precision_z=Z95)
    point = CueRules(min_precision=0.6)
    assert "rain" in _phrases(mine_cues(_rain(3), rules=point), "weather.get")
    assert "rain" not in _phrases(mine_cues(_rain(3), rules=bounded), "weather.get")
    assert verify_cue(ToolCue("weather.get", ("rain",)), _rain(3), bounded) is None
    # 8 of 8: the lower bound is 0.68, the cue stands on enough requests to be released
    assert bounded.precision(8, 8) > 0.6 > bounded.precision(3, 3)
    cue = next(c for c in mine_cues(_rain(8), rules=bounded) if c.tool == "weather.get")
    assert "rain" in cue.phrases and verify_cue(cue, _rain(8), bounded) == 8


def test_build_knowledge_writes_cue_entries() -> None:
    compendium = build_knowledge(_rain(8), [], None, client_id="h01", progress=False)
    cues = [c for c in entry_claims(compendium.entries) if isinstance(c, ToolCue)]
    assert "rain" in _phrases(cues, "weather.get")
    assert compendium.meta["cues"] == len(cues)
