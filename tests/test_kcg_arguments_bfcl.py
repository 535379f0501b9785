"""Real call logs: BFCL v4 live_multiple through the argument miner at k = 2.

The requests and gold calls are read as the BFCL converter reads them
(``benchmarks/bfcl_federation.py``: the ``bfcl-eval`` wheel's data files); each
request is its own subject (BFCL names no patients).
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

from fical_secure.data.function_spec import catalogue_from_json
from fical_secure.data.schema import Episode, ToolSpec
from fical_secure.data.validation import call_problems
from fical_secure.kcg.arguments import ArgumentRules, mine_argument_claims
from fical_secure.kcg.argverify import verify_argument_claims
from fical_secure.kcg.claims import ARGUMENT_CLAIMS, claim_entry, parse_any, render_claim
from fical_secure.kcg.schema import Compendium
from fical_secure.tlu.knowledge import Knowledge

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bfcl_federation

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("bfcl_eval") is None, reason="bfcl-eval is not installed"
)


@pytest.fixture(scope="module")
def live_multiple() -> tuple[list[Episode], tuple[ToolSpec, ...]]:
    specs, items = bfcl_federation.load_items(
        bfcl_federation.bfcl_data_dir(), Counter(), ["live_multiple"]
    )
    catalogue = catalogue_from_json(specs, where="BFCL catalogue")
    episodes = []
    for item in items:
        call = bfcl_federation._as_call(item, catalogue)
        if not call_problems(call, catalogue):
            episodes.append(Episode(item["id"], "bfcl", item["request"], call, "", "", "member"))
    return episodes, catalogue


def test_real_call_logs_teach_every_kind_of_argument_claim_at_k2(
    live_multiple: tuple[list[Episode], tuple[ToolSpec, ...]],
) -> None:
    episodes, catalogue = live_multiple
    rules = ArgumentRules(min_support=2)
    mined = mine_argument_claims(episodes, catalogue, rules=rules)
    support = verify_argument_claims(mined, episodes, catalogue, rules)
    kept = [(c, n) for c, n in zip(mined, support, strict=True) if n is not None]
    kinds = Counter(type(c).__name__ for c, _ in kept)
    assert set(kinds) == {t.__name__ for t in ARGUMENT_CLAIMS}, kinds
    assert all(n >= 2 for _, n in kept)
    texts = {render_claim(c): c for c, _ in kept}
    assert all(parse_any(c.tool, t) == c for t, c in texts.items())
    # conventions a reader can check against the data: BFCL's place format and dates
    assert 'Where a request says "los angeles", calls set `to` to "Los Angeles, CA".' in texts
    assert "Calls write `date` as a date, year-month-day with a four-digit year." in texts
    hints = Knowledge.from_compendium(
        Compendium("c01", tuple(claim_entry(c) for c, _ in kept))
    ).arguments
    assert hints["Trains_1_FindTrains"]["to"].normalisations["los angeles"] == "Los Angeles, CA"


def test_a_higher_k_keeps_fewer_claims_on_real_logs(
    live_multiple: tuple[list[Episode], tuple[ToolSpec, ...]],
) -> None:
    episodes, catalogue = live_multiple
    at2 = set(mine_argument_claims(episodes, catalogue, rules=ArgumentRules(min_support=2)))
    at5 = set(mine_argument_claims(episodes, catalogue, rules=ArgumentRules(min_support=5)))
    assert at5 and len(at5) < len(at2)
