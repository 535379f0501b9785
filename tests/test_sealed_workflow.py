"""The sealed round's workflow over the carrier seam: one object, any carrier."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from fical_secure.aggregate import aggregate
from fical_secure.crypto.identity import IdentityKey
from fical_secure.crypto.keys import Roster
from fical_secure.data.schema import HospitalData
from fical_secure.errors import PipelineError
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.pipeline.client_state import ClientRoundState
from fical_secure.pipeline.sealed_round import (
    InProcessSealedCarrier,
    SealedRound,
    Submission,
    Submitted,
)
from fical_secure.pipeline.server import PublishStage, ServerRoundState
from fical_secure.protocol import Client, RoundConfig, Server

NAMES = ("h01", "h02", "h03")


@dataclass
class Tampering(InProcessSealedCarrier):
    """A carrier that flips one byte of h02's envelope on the way (a network attacker)."""

    def submit(self, config: RoundConfig, roster: Roster) -> Submitted:
        honest = super().submit(config, roster)
        subs = []
        for sub in honest.submissions:
            envelope = sub.envelope
            if sub.route == "h02":
                envelope = envelope[:-1] + bytes([envelope[-1] ^ 1])
            subs.append(Submission(sub.route, envelope))
        return Submitted(tuple(subs), honest.refused)


def _round(tmp_path: Path) -> tuple[SealedRound, Tampering, Server]:
    server_key = IdentityKey.generate()
    keys = {name: IdentityKey.generate() for name in NAMES}
    roster = Roster.create(server_key, [k.public for k in keys.values()], epoch=1)
    server = Server.create(tmp_path / "store.sqlite", server_key, roster)
    state = ServerRoundState(server=server, owners={k.key_id: n for n, k in keys.items()})
    releases = {}
    for name in NAMES:
        entry = Entry("bmi_calculator", "purpose", f"bmi_calculator computes BMI ({name}).")
        releases[name] = ClientRoundState(
            HospitalData(name, name, ()), released=Compendium(name, (entry,))
        )
    clients = {
        n: Client(k, server.public, state_path=tmp_path / f"{n}-state.json")
        for n, k in keys.items()
    }
    return SealedRound(state, roster), Tampering(clients, releases), server


def test_a_tampered_envelope_is_refused_and_the_round_goes_on_with_the_rest(
    tmp_path: Path,
) -> None:
    workflow, carrier, server = _round(tmp_path)
    try:
        workflow.open(round_id=5, min_clients=2)
        workflow.collect(carrier)
        assert sorted(map(str, workflow.accepted)) == ["h01", "h03"]
        assert sum(workflow.state.refused.values()) == 1  # counted by error type, not dropped
        assert sorted(c.owner for c in workflow.state.received) == ["h01", "h03"]
        workflow.state.global_compendium = aggregate(workflow.state.received)
        PublishStage().run(workflow.state)  # signed through the store
        assert workflow.deliver(carrier) == 2  # receipts and result checked by each client
        assert workflow.state.result is not None and workflow.state.result.contributors == 2
    finally:
        server.close()


def test_deliver_before_publish_is_an_error(tmp_path: Path) -> None:
    workflow, carrier, server = _round(tmp_path)
    try:
        workflow.open(round_id=5, min_clients=2)
        workflow.collect(carrier)
        with pytest.raises(PipelineError, match="publish stage first"):
            workflow.deliver(carrier)
    finally:
        server.close()
