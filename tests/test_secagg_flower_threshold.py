"""Over Flower, at aggregate.min_support k: the server learns only entries k hospitals hold.

Our ServerApp against four hospitals answering with the real ClientApp handlers
on their own ``federation init`` folders (:mod:`secagg_grid`): two
secure-aggregation rounds (bucket counts, then entries), and an entry fewer
than k hospitals released is in nothing the server keeps or logs.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
import yaml
from secagg_grid import LocalGrid, hospital_nodes, secagg_federation, task_identity

from fical_secure.config.server import load_server_config
from fical_secure.errors import FicalError
from fical_secure.flower.server_app import run_round
from fical_secure.kcg.schema import Compendium
from fical_secure.pipeline import multiset as ms

pytestmark = pytest.mark.slow  # each round runs the client pipeline (spaCy, embedder) per hospital
if TYPE_CHECKING:
    from flwr.serverapp import Grid

NAMES = ["h01", "h02", "h03", "h04"]
K = 3
EXPECTED = 300  # aggregate.expected_distinct: the count pass has 8 x 900 buckets


@pytest.fixture(autouse=True, scope="module")
def _identity() -> Iterator[None]:
    yield from task_identity()


@pytest.fixture(scope="module")
def threshold_round(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    fed = secagg_federation(tmp_path_factory.mktemp("sa") / "fed")
    server_yaml = fed / "server" / "server.yaml"
    data = yaml.safe_load(server_yaml.read_text(encoding="utf-8"))
    data.setdefault("aggregate", {}).update(min_support=K, expected_distinct=EXPECTED)
    server_yaml.write_text(yaml.safe_dump(data), encoding="utf-8")
    grid = LocalGrid(hospital_nodes(fed, NAMES))
    report = run_round(cast("Grid", grid), load_server_config(server_yaml))
    return fed, report


def _holders(fed: Path) -> Counter[bytes]:
    held: Counter[bytes] = Counter()
    for name in NAMES:
        out = fed / "clients" / name / "out"
        released = Compendium.from_json((out / "released.json").read_text("utf-8"))
        held.update(set(ms.items_of(released)[0]))
    return held


def test_two_passes_deliver_exactly_the_entries_k_hospitals_hold(
    threshold_round: tuple[Path, dict[str, Any]],
) -> None:
    fed, report = threshold_round
    assert report["status"] == "done" and report["delivered"] == 4
    t = report["transport"]
    assert t["attempts"] == 2 and t["min_support"] == K and t["survivors"] == 4
    assert t["below_threshold_slots"] == t["forged_items"] == t["forged_buckets"] == 0
    held = _holders(fed)
    want = Counter({i: n for i, n in held.items() if n >= K})
    assert want and any(n < K for n in held.values())  # both sides of k are exercised
    layout = ms.layout_for(4, K, EXPECTED)  # one entry-pass slot per item at k
    assert t["masked_input_bytes_per_client"] == 4 * (8 * 900 * 3 + len(want) * 222)
    assert t["masked_input_bytes_per_client"] == layout.upload_bytes(len(want))
    glob = Compendium.from_json(
        (fed / "clients" / "h01" / "out" / "global_compendium.json").read_text("utf-8")
    )
    assert set(ms.items_of(glob)[0]) == set(want)  # entries and tool signatures alike
    support = {i: e.support for e in glob.entries for i in ms.items_of(Compendium("x", (e,)))[0]}
    assert all(support[i] == n for i, n in want.items() if i in support)
    kept = json.loads((fed / "server" / "out" / "secagg_round.json").read_text("utf-8"))
    assert kept["items_decoded"] == sum(want.values())


def test_an_entry_below_k_is_in_nothing_the_server_keeps_or_logs(
    threshold_round: tuple[Path, dict[str, Any]],
) -> None:
    fed, _report = threshold_round
    below = [json.loads(i)[-1] for i, n in _holders(fed).items() if n < K]
    below = [b if isinstance(b, str) else json.dumps(b) for b in below]
    server = fed / "server" / "out"
    with sqlite3.connect(server / "store.sqlite") as db:
        kept = ["\n".join(db.iterdump())]
    kept += [p.read_text("utf-8", errors="replace") for p in server.rglob("*") if p.is_file()]
    assert len(kept) > 3
    for text in below:
        assert not any(text in blob for blob in kept), text


def test_a_hospital_refuses_a_round_whose_k_is_below_its_profile_floor(
    tmp_path: Path,
) -> None:
    """Every hospital's profile asks release.secagg_min_support 4; the server runs k = 3:
    each refuses its masked input (nothing of its release is sent) and the round fails."""
    from fical_secure.config.profile import BUILTIN_DIR

    fed = secagg_federation(tmp_path / "fed")
    profile = yaml.safe_load((BUILTIN_DIR / "strict.yaml").read_text(encoding="utf-8"))
    profile["release"]["secagg_min_support"] = 4
    floor = tmp_path / "floor.yaml"
    floor.write_text(yaml.safe_dump(profile), encoding="utf-8")
    for name in NAMES:
        path = fed / "clients" / name / "hospital.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["privacy"]["audit_profile"] = str(floor)
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    server_yaml = fed / "server" / "server.yaml"
    data = yaml.safe_load(server_yaml.read_text(encoding="utf-8"))
    data.setdefault("aggregate", {}).update(min_support=K)
    server_yaml.write_text(yaml.safe_dump(data), encoding="utf-8")
    grid = LocalGrid(hospital_nodes(fed, NAMES))
    with pytest.raises(FicalError):
        run_round(cast("Grid", grid), load_server_config(server_yaml))
    for name in NAMES:
        log = (fed / "clients" / name / "out" / "client.log").read_text("utf-8")
        assert "secagg_min_support 4" in log
