"""The attack suite's hardened row is what a round releases, not a hand-made approximation."""

from __future__ import annotations

import pytest

pytest.importorskip("presidio_analyzer")

from fical_secure.attacks.modes import client_release
from fical_secure.pipeline.client import client_stages
from fical_secure.pipeline.runner import run_stages
from fical_secure.pipeline.stages import DataStage, EachClient, ModelStage
from fical_secure.pipeline.state import RoundSettings, RoundState


def test_the_hardened_release_equals_the_rounds_release_for_the_same_client() -> None:
    settings = RoundSettings(
        clients=3,
        seed=2,
        episodes_per_client=24,
        nonmembers_per_client=12,
        use_model=False,
        progress=False,
    )
    # the in-process round's client side, as `demo` runs it
    round_state = RoundState(settings=settings)
    per_client = client_stages(settings.client_settings(), ground_truth=True)
    run_stages(round_state, [DataStage(), ModelStage(), *(EachClient(s) for s in per_client)])
    federation = round_state.need_federation()
    assert round_state.released, "the round released nothing to compare"
    for hospital in federation.hospitals:
        cid = hospital.hospital_id
        plain, hardened = client_release(hospital, federation, None, settings.client_settings())
        in_round = round_state.clients[cid]
        assert in_round.local is not None
        assert plain.entries == in_round.local.entries  # meta differs only by wall seconds
        if in_round.blocked is not None:
            assert hardened is None
            continue
        assert hardened is not None
        assert hardened.entries == in_round.need_release().entries
        assert hardened.owner == cid
    # this federation has an entry the scrubber changed and the recheck then dropped:
    # a release without the recheck stage would differ from the round's
    assert any(c.report.get("recheck_dropped") for c in round_state.clients.values())
