"""A round carries mined argument knowledge through scrub, recheck and aggregation.

Each office asks for stock quotes in its own way: north says "tesla" for
``ticker="TSLA"``, south always wants euros without saying so; both leave
the optional ``exchange`` out and write days as ISO dates. North also says
"nyc" for ``city="New York, NY"`` in weather requests: the scrubber masks
that place, like any place in an entry, and the recheck drops the entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from federation_folder import EvalRow, run_round, write_folder

from fical_secure.kcg.claims import (
    ArgumentShape,
    Normalisation,
    OmittedArgument,
    UsualValue,
    entry_claims,
)
from fical_secure.kcg.schema import Compendium
from fical_secure.tlu.knowledge import Knowledge

QUOTE: dict[str, Any] = {
    "name": "stock_quote",
    "description": "Closing price of a share on a day.",
    "parameters": {
        "type": "object",
        "properties": {
            "ticker": {"type": "string", "description": "Symbol of the share"},
            "day": {"type": "string", "description": "Trading day"},
            "currency": {"type": "string", "enum": ["usd", "eur"]},
            "exchange": {"type": "string", "description": "Where it trades"},
        },
        "required": ["ticker", "day"],
    },
}
WEATHER: dict[str, Any] = {
    "name": "weather_now",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City and state code"}},
        "required": ["city"],
    },
}
ASKS = {
    "north": (("How is tesla doing on {day}?", "TSLA"), ("Apple shares on {day}?", "AAPL")),
    "south": (("Quote for MSFT on {day}", "MSFT"), ("Price of NVDA at close {day}", "NVDA")),
}
DAYS = ("2024-05-01", "2024-05-02", "2024-05-03", "2024-05-06", "2024-05-07", "2024-05-08")
WEATHER_ASKS = {
    "north": ("Is it raining in nyc", "New York, NY"),
    "south": ("Sun in Austin, TX", "Austin, TX"),
}


def _records(office: str, split: str) -> list[dict[str, Any]]:
    out = []
    for i, day in enumerate(DAYS):
        ask, ticker = ASKS[office][i % 2]
        args: dict[str, Any] = {"ticker": ticker, "day": day}
        if office == "south":
            args["currency"] = "eur"
        said, city = WEATHER_ASKS[office]
        weather = {"tool": "weather_now", "arguments": {"city": city}}
        for j, (text, call) in enumerate(
            (
                (ask.format(day=day), {"tool": "stock_quote", "arguments": args}),
                (f"{said} {('now', 'today', 'at the moment')[i % 3]}?", weather),
            )
        ):
            out.append(
                {
                    "id": f"{office}-{split[0]}{i}-{j}",
                    "split": split,
                    "request": text,
                    "call": call,
                    "result": "ok",
                    "answer": "Done.",
                }
            )
    return out


@pytest.mark.slow
def test_a_round_releases_argument_knowledge_of_each_kind(tmp_path: Path) -> None:
    folder, out = tmp_path / "offices", tmp_path / "run"
    episodes = {o: {s: _records(o, s) for s in ("member", "nonmember")} for o in ASKS}
    gold = {"tool": "stock_quote", "arguments": {"ticker": "TSLA", "day": "2024-06-03"}}
    evals: list[EvalRow] = [("south", "elsewhere", "tesla on 2024-06-03?", gold)]
    write_folder(folder, [QUOTE, WEATHER], episodes, evals)
    report = run_round(folder, out)
    glob = Compendium.from_json((out / "global_compendium.json").read_text(encoding="utf-8"))
    claims = set(entry_claims(glob.entries))
    assert {
        Normalisation("stock_quote", "ticker", "tesla", '"TSLA"'),
        UsualValue("stock_quote", "currency", '"eur"'),
        OmittedArgument("stock_quote", "exchange"),
        ArgumentShape("stock_quote", "day", "iso_date"),
    } <= claims
    hints = Knowledge.from_compendium(glob).arguments["stock_quote"]
    assert hints["ticker"].normalisations["tesla"] == "TSLA"
    # north leaves currency out, south writes "eur": one vote each, so the agent gets neither
    assert hints["currency"].usual_value is None and not hints["currency"].omitted
    # a place is masked in any entry, so the place normalisation never leaves north
    assert not any(isinstance(c, Normalisation) and c.tool == "weather_now" for c in claims)
    assert report["recheck_dropped"]["north"] >= 1
