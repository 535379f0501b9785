"""Tool-selection cues in ranking and in aggregation.

The Solver adds ``cue_weight`` x the summed weight (specificity x
min(support, cap) / cap) of a tool's cue phrases a request contains, matched on
plural-folded tokens; the server merges cue entries phrase by phrase
(equal claims only, never by embedding), so distinct phrases of one tool all
survive aggregation and k-support counts each phrase's contributors.
"""

from __future__ import annotations

import pytest

from fical_secure.aggregate import aggregate
from fical_secure.data.schema import ArgSpec, ToolSpec
from fical_secure.kcg.claims import (
    ToolCue,
    ValueAlias,
    claim_entry,
    keep_validated,
    parse_cue,
    render_claim,
)
from fical_secure.kcg.cues import fold_plural
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.tlu.embedding import Embedder, default_embedder
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.knowledge import Knowledge
from fical_secure.tlu.solver import Solver

CITY = ArgSpec("city", "str", "the city")
TWINS = (
    ToolSpec("weather_now", "Get the weather for a city.", (CITY,), "text"),
    ToolSpec("weather_report", "Get the weather for a city.", (CITY,), "text"),
)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return default_embedder()


def _cues(*pairs: tuple[str, tuple[str, ...]], owner: str = "c01") -> Compendium:
    return Compendium(owner, tuple(claim_entry(ToolCue(t, p)) for t, p in pairs))


def _top(embedder: Embedder, knowledge: Knowledge, request: str) -> str:
    solver = Solver(ToolIndex(embedder, None, TWINS), TWINS, knowledge)
    return solver.rank([request])[0][0][0]


@pytest.mark.parametrize("cued", ["weather_now", "weather_report"])
def test_a_cue_ranks_its_tool_first(embedder: Embedder, cued: str) -> None:
    knowledge = Knowledge.from_compendium(_cues((cued, ("brolly",))))
    assert _top(embedder, knowledge, "Do I need a brolly in Leeds?") == cued


def test_a_cue_the_request_does_not_contain_adds_nothing(embedder: Embedder) -> None:
    index = ToolIndex(embedder, None, TWINS)
    knowledge = Knowledge.from_compendium(_cues(("weather_report", ("brolly",))))
    request = "Weather in Leeds please"
    cued = Solver(index, TWINS, knowledge).rank([request])[0]
    plain = Solver(index, TWINS, Knowledge()).rank([request])[0]
    assert cued == plain


def test_cue_phrases_match_whole_normalised_tokens() -> None:
    solver = Solver(
        ToolIndex(default_embedder(), None, TWINS),
        TWINS,
        Knowledge.from_compendium(_cues(("weather_now", ("rain tomorrow",)))),
    )
    one_client = 1 / solver.cue_support_cap
    assert solver.cue_evidence("Any RAIN, tomorrow?") == pytest.approx({"weather_now": one_client})
    assert solver.cue_evidence("rainy tomorrow") == {}
    assert solver.cue_evidence("rain later tomorrow") == {}


def test_specificity_splits_a_phrase_between_the_tools_it_cues() -> None:
    glob = aggregate(
        [
            _cues(("weather_now", ("rain", "umbrella")), owner="c01"),
            _cues(("weather_now", ("rain",)), ("weather_report", ("rain",)), owner="c02"),
        ]
    )
    knowledge = Knowledge.from_compendium(glob)
    assert knowledge.cues == {
        "weather_now": {"rain": 2, "umbrella": 1},
        "weather_report": {"rain": 1},
    }
    spec = knowledge.specificity()
    assert spec["weather_now"] == pytest.approx({"rain": 2 / 3, "umbrella": 1.0})
    assert spec["weather_report"] == pytest.approx({"rain": 1 / 3})
    solver = Solver(ToolIndex(default_embedder(), None, TWINS), TWINS, knowledge, cue_support_cap=1)
    evidence = solver.cue_evidence("rain and umbrella")
    assert evidence == pytest.approx({"weather_now": 2 / 3 + 1.0, "weather_report": 1 / 3})


def test_merge_keeps_every_distinct_cue_phrase(embedder: Embedder) -> None:
    a = _cues(("weather_now", ("brolly", "rain tomorrow")), owner="c01")
    b = _cues(("weather_now", ("umbrella", "rain tomorrow")), owner="c02")
    # a threshold at which a near-duplicate merge of the two sentences would drop phrases
    vectors = embedder.encode([a.entries[0].text, b.entries[0].text])
    threshold = float(vectors[0] @ vectors[1]) - 0.01
    glob = aggregate([a, b], embedder=embedder, threshold=threshold)
    assert Knowledge.from_compendium(glob).cues == {
        "weather_now": {"brolly": 1, "rain tomorrow": 2, "umbrella": 1}
    }
    # one entry per support level, each a cue sentence the agent parses back
    assert sorted((e.text, e.support) for e in glob.entries) == [
        (render_claim(ToolCue("weather_now", ("brolly", "umbrella"))), 1),
        (render_claim(ToolCue("weather_now", ("rain tomorrow",))), 2),
    ]


def test_k_support_applies_to_each_cue_phrase_after_merging(embedder: Embedder) -> None:
    a = _cues(("weather_now", ("brolly", "rain")), owner="c01")
    b = _cues(("weather_now", ("umbrella", "rain")), owner="c02")
    glob = aggregate([a, b], embedder=embedder, min_support=2)
    assert Knowledge.from_compendium(glob).cues == {"weather_now": {"rain": 2}}
    assert glob.meta["n_dropped_low_support"] == 2
    # a client's own support figure is never trusted, a global input's counts are
    inflated = Compendium("c03", (Entry("weather_now", "usage", a.entries[0].text, 50),))
    again = aggregate([glob, inflated], embedder=embedder, min_support=3)
    assert Knowledge.from_compendium(again).cues == {"weather_now": {"rain": 3}}


def test_a_long_merged_cue_list_is_split_under_the_entry_limit() -> None:
    phrases = [f"phrase number {i:03d}" for i in range(40)]
    comps = [_cues(("weather_now", (p,)), owner=f"c{i:02d}") for i, p in enumerate(phrases)]
    glob = aggregate(comps)
    assert len(glob.entries) > 1
    assert set(Knowledge.from_compendium(glob).cues["weather_now"]) == set(phrases)


def test_alias_paraphrases_merge_by_claim_not_by_embedding(embedder: Embedder) -> None:
    bmp = ValueAlias("lab", "test", "chem-7", "BMP")
    cbc = ValueAlias("lab", "test", "chem-8", "CBC")
    paraphrase = 'Staff say "chem-7" when they mean test="BMP" for lab.'
    comps = [
        Compendium("c01", (claim_entry(bmp),)),
        Compendium("c02", (claim_entry(bmp, paraphrase),)),
        Compendium("c03", (claim_entry(cbc),)),
    ]
    glob = aggregate(comps, embedder=embedder, threshold=0.5)
    assert sorted(e.support for e in glob.entries) == [1, 2]
    assert Knowledge.from_compendium(glob).aliases == {"chem-7": "BMP", "chem-8": "CBC"}


def test_a_scrubbed_cue_phrase_drops_that_phrase_not_the_whole_entry() -> None:
    cue = ToolCue("movies", ("comedy", "wes anderson", "directed"))
    validated = claim_entry(cue)
    masked = Entry("movies", "usage", validated.text.replace("wes anderson", "<PERSON>"))
    kept = keep_validated((masked,), (validated,))
    assert [parse_cue(e.tool, e.text) for e in kept] == [ToolCue("movies", ("comedy", "directed"))]
    # nothing that the validated cue lacks survives, and an all-masked entry is dropped
    forged = Entry("movies", "usage", masked.text.replace("comedy", "horror"))
    assert [parse_cue(e.tool, e.text) for e in keep_validated((forged,), (validated,))] == [
        ToolCue("movies", ("directed",))
    ]
    gone = Entry("movies", "usage", 'Requests that mention "<PERSON>" usually call this tool.')
    assert keep_validated((gone,), (validated,)) == ()
    other_tool = Entry("series", "usage", masked.text)
    assert keep_validated((other_tool,), (validated,)) == ()


@pytest.mark.parametrize(
    ("token", "folded"),
    [
        ("movies", "movie"),
        ("flights", "flight"),
        ("bus", "bus"),
        ("class", "class"),
        ("analysis", "analysis"),
        ("ties", "tie"),
        ("gas", "gas"),
        ("weather", "weather"),
    ],
)
def test_fold_plural_folds_only_plural_endings(token: str, folded: str) -> None:
    assert fold_plural(token) == folded


@pytest.mark.parametrize("fold", [False, True])
def test_folded_matching_lets_a_cue_match_its_plural(fold: bool) -> None:
    knowledge = Knowledge.from_compendium(_cues(("weather_now", ("rain shower",))))
    solver = Solver(
        ToolIndex(default_embedder(), None, TWINS),
        TWINS,
        knowledge,
        cue_support_cap=1,
        cue_fold=fold,
    )
    assert solver.cue_evidence("any rain shower today") == {"weather_now": 1.0}
    assert solver.cue_evidence("any rain showers today") == ({"weather_now": 1.0} if fold else {})
    assert solver.cue_evidence("any rains showery today") == {}


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_support_cap_scales_a_phrase_by_its_contributors(cap: int) -> None:
    comps = [_cues(("weather_now", ("rain",)), owner=f"c0{i}") for i in range(1, 4)]
    comps.append(
        _cues(("weather_now", ("umbrella",)), ("weather_report", ("umbrella",)), owner="c09")
    )
    knowledge = Knowledge.from_compendium(aggregate(comps))
    assert knowledge.cues["weather_now"] == {"rain": 3, "umbrella": 1}
    solver = Solver(
        ToolIndex(default_embedder(), None, TWINS), TWINS, knowledge, cue_support_cap=cap
    )
    assert solver.cue_evidence("rain") == pytest.approx({"weather_now": 1.0})
    assert solver.cue_evidence("umbrella") == pytest.approx(
        {"weather_now": 0.5 / cap, "weather_report": 0.5 / cap}
    )


def test_support_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="cue_support_cap"):
        Solver(ToolIndex(default_embedder(), None, TWINS), TWINS, cue_support_cap=0)
