"""The server pipeline: verify -> store -> aggregate -> publish, refusals counted, never dropped."""

from __future__ import annotations

from pathlib import Path

from fical_secure.crypto.keys import IdentityKey, Roster
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.pipeline.runner import run_stages
from fical_secure.pipeline.server import ServerRoundState, receive_envelope, server_stages
from fical_secure.protocol import Client, GlobalResult, Server


def _compendium(owner: str) -> bytes:
    entry = Entry("bmi_calculator", "purpose", f"bmi_calculator computes BMI ({owner}).")
    return Compendium(owner=owner, entries=(entry,)).to_bytes()


def test_only_enrolled_authentic_envelopes_reach_the_global_compendium(tmp_path: Path) -> None:
    server_key, enrolled, outsider = (IdentityKey.generate() for _ in range(3))
    roster = Roster.create(server_key, [enrolled.public], epoch=1)
    server = Server.create(tmp_path / "store.sqlite", server_key, roster)
    state = ServerRoundState(server=server, owners={enrolled.key_id: "h01"})
    config = server.open_round(1, min_clients=1)

    forged = Client(outsider, server.public).seal_submission(config, _compendium("h99"))
    assert receive_envelope(state, forged) is None
    # the payload claims another owner: the server names it by the authenticated sender
    good = Client(enrolled, server.public).seal_submission(config, _compendium("h02"))
    tampered = bytearray(good)
    tampered[-1] ^= 1
    assert receive_envelope(state, bytes(tampered)) is None
    receipt = receive_envelope(state, good)
    assert receipt is not None and receipt.sender_key_id == enrolled.key_id
    assert dict(state.refused) == {"NotEnrolledError": 1, "InvalidEnvelope": 1}

    run_stages(state, server_stages())
    assert [c.owner for c in state.received] == ["h01"]
    assert state.result is not None
    result = GlobalResult.decode(state.result.encode())
    result.verify(server_key.public)
    assert result.contributors == 1
    assert Compendium.from_json(result.payload) == state.global_compendium
    assert state.report["client_entries_received"] == 1
