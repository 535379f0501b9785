"""A secure-aggregation client that lives in a fresh process per stage (Flower's ClientApp).

Each stage rebuilds the client from its sealed state file, answers, and seals
it back; the round must still sum exactly, and the file must refuse tampering,
another identity's key, replays of older rounds and stale requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from secagg_helpers import BITS, LENGTH, expected_sum, inputs_for

from fical_secure.crypto.bundle import KeyBundle
from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.identity import IdentityKey
from fical_secure.errors import (
    FicalError,
    RollbackError,
    SecAggAbort,
    StoreError,
    WeakSecAggParameters,
)
from fical_secure.protocol.secagg import Federation
from fical_secure.protocol.secagg.common import Phase
from fical_secure.protocol.secagg.driver import drive_stages, step
from fical_secure.protocol.secagg.floors import SecAggFloors
from fical_secure.protocol.secagg.persist import SecAggStateFile, state_path


def _federation(
    n: int, tmp_path: Path, round_id: int = 5
) -> tuple[Federation, dict[bytes, SecAggStateFile]]:
    server_key = IdentityKey.generate()
    bundles = [KeyBundle.generate() for _ in range(n)]
    roster = Roster.create(server_key, [b.identity.public for b in bundles], epoch=1)
    identities = {b.identity.key_id: b.identity for b in bundles}
    fed = Federation.enrolled(server_key, identities, roster, round_id, bits=BITS, length=LENGTH)
    files = {}
    for b in bundles:
        folder = tmp_path / b.identity.key_id.hex()
        folder.mkdir()
        files[b.identity.key_id] = SecAggStateFile(
            state_path(folder / "private.key"), b, server_key.public
        )
    return fed, files


def _run_through_files(
    fed: Federation,
    files: Mapping[bytes, SecAggStateFile],
    inputs: Mapping[bytes, np.ndarray],
    drop_at: Mapping[int, set[bytes]] | None = None,
) -> np.ndarray:
    online = set(files)

    def ask(stage: int, requests: Mapping[bytes, bytes]) -> list[bytes]:
        online.difference_update((drop_at or {}).get(stage, set()))
        replies = []
        for cid in sorted(online & requests.keys()):
            sf = files[cid]
            if stage == 0:
                client = sf.start(requests[cid], fed.roster)
            else:
                client = sf.resume(fed.roster)  # a fresh process: only the file survives
            try:
                replies.append(
                    step(client, stage, requests[cid], inputs[cid] if stage == 2 else None)
                )
            except FicalError:
                online.discard(cid)
            finally:
                sf.keep(client)
        return replies

    return drive_stages(fed.server, ask)


def test_a_round_through_sealed_state_files_sums_exactly(tmp_path: Path) -> None:
    fed, files = _federation(5, tmp_path)
    inputs = inputs_for(fed, seed=1)
    total = _run_through_files(fed, files, inputs)
    assert np.array_equal(total, expected_sum(inputs, fed.server.survivors))
    for sf in files.values():
        saved = sf.load()
        assert saved is not None and saved.finished and saved.client is None  # no secret kept
        assert sf.finished_config_hash() == fed.server.config_hash
        assert sf.path.stat().st_mode & 0o777 == 0o600


def test_dropout_recovery_through_state_files(tmp_path: Path) -> None:
    fed, files = _federation(5, tmp_path)
    inputs = inputs_for(fed, seed=2)
    gone = sorted(files)[0]
    total = _run_through_files(fed, files, inputs, drop_at={3: {gone}})
    assert gone in fed.server.survivors  # it sent its masked input, then vanished
    assert np.array_equal(total, expected_sum(inputs, fed.server.survivors))


def test_the_file_holds_no_secret_in_the_clear(tmp_path: Path) -> None:
    fed, files = _federation(3, tmp_path)
    cid = sorted(files)[0]
    sf = files[cid]
    client = sf.start(fed.server.configure(), fed.roster)
    client.advertise_keys(fed.server.configure())
    sf.keep(client)
    state = client.export_state()
    blob = sf.path.read_bytes()
    assert b'"enc"' in state and b'"enc"' not in blob and b"mask" not in blob


def test_a_tampered_state_file_fails_closed(tmp_path: Path) -> None:
    fed, files = _federation(3, tmp_path)
    sf = files[sorted(files)[0]]
    config = fed.server.configure()
    client = sf.start(config, fed.roster)
    client.advertise_keys(config)
    sf.keep(client)
    blob = bytearray(sf.path.read_bytes())
    blob[-40] ^= 1
    sf.path.write_bytes(bytes(blob))
    with pytest.raises(StoreError):
        sf.resume(fed.roster)


def test_another_clients_file_does_not_open(tmp_path: Path) -> None:
    fed, files = _federation(3, tmp_path)
    a, b = (files[c] for c in sorted(files)[:2])
    config = fed.server.configure()
    client = a.start(config, fed.roster)
    client.advertise_keys(config)
    a.keep(client)
    b.path.write_bytes(a.path.read_bytes())  # a's sealed state under b's name
    with pytest.raises(StoreError):
        b.resume(fed.roster)


def test_a_replayed_config_of_a_joined_round_is_refused(tmp_path: Path) -> None:
    fed, files = _federation(3, tmp_path)
    inputs = inputs_for(fed, seed=3)
    _run_through_files(fed, files, inputs)
    old = fed.server._config.encode()  # the config of the finished round
    for sf in files.values():
        with pytest.raises(RollbackError):
            sf.start(old, fed.roster)


def test_a_stale_request_after_the_round_finds_no_open_round(tmp_path: Path) -> None:
    fed, files = _federation(3, tmp_path)
    _run_through_files(fed, files, inputs_for(fed, seed=4))
    with pytest.raises(StoreError):
        files[sorted(files)[0]].resume(fed.roster)


def test_an_aborted_client_keeps_no_secret(tmp_path: Path) -> None:
    fed, files = _federation(3, tmp_path)
    sf = files[sorted(files)[0]]
    config = fed.server.configure()
    client = sf.start(config, fed.roster)
    client.advertise_keys(config)
    with pytest.raises(FicalError):
        client.share_keys(b"not a directory")
    assert client.phase is Phase.ABORTED
    sf.keep(client)
    saved = sf.load()
    assert saved is not None and saved.client is None and not saved.finished
    with pytest.raises(StoreError):
        sf.resume(fed.roster)


def test_too_few_survivors_abort_through_state_files(tmp_path: Path) -> None:
    fed, files = _federation(5, tmp_path)
    ids = sorted(files)
    with pytest.raises(SecAggAbort):
        _run_through_files(fed, files, inputs_for(fed, seed=5), drop_at={2: set(ids[:2])})


def test_the_floors_given_at_start_are_the_ones_the_client_applies(tmp_path: Path) -> None:
    """The Flower client passes its profile's floors to :meth:`SecAggStateFile.start`."""
    fed, files = _federation(5, tmp_path)
    sf = next(iter(files.values()))
    config = fed.server.configure()
    client = sf.start(config, fed.roster, SecAggFloors(min_cohort=6))
    with pytest.raises(WeakSecAggParameters, match="cohort"):
        step(client, 0, config, None)
    accepted = sf.start(config, fed.roster, SecAggFloors(min_cohort=5))
    assert step(accepted, 0, config, None)


def test_a_state_file_without_a_round_refuses_resume_and_has_no_result(tmp_path: Path) -> None:
    fed, files = _federation(3, tmp_path)
    sf = next(iter(files.values()))
    with pytest.raises(StoreError, match="no secure-aggregation round is open"):
        sf.resume(fed.roster)
    with pytest.raises(StoreError, match="finished no secure-aggregation round"):
        sf.finished_config_hash()


def test_the_next_round_keeps_identities_roster_and_timeouts() -> None:
    fed = Federation.create(4, bits=BITS, length=LENGTH, timeouts_s=(7, 8, 9, 10, 11))
    nxt = fed.next_round(2, 16)
    assert nxt.server_identity is fed.server_identity and nxt.roster is fed.roster
    assert nxt.client_identities == fed.client_identities
    assert nxt.server.params.timeouts_s == (7, 8, 9, 10, 11)
    assert nxt.server.params.length == 16 and nxt.server.round_id != fed.server.round_id


def test_the_state_file_sits_beside_the_private_key() -> None:
    assert state_path(Path("/keys/h01/private.key")) == Path("/keys/h01/secagg-state.bin")


def test_abandoning_a_round_keeps_the_mark_and_history_but_no_secret(tmp_path: Path) -> None:
    from fical_secure.protocol.secagg.participation import Joined

    fed, files = _federation(3, tmp_path)
    sf = files[sorted(files)[0]]
    config = fed.server.configure()
    client = sf.start(config, fed.roster)
    client.advertise_keys(config)
    earlier = Joined(4, b"r" * 32, frozenset(files))
    sf.keep(client, earlier)
    kept = sf.load()
    assert kept is not None and kept.client is not None
    sf.abandon(client)
    saved = sf.load()
    assert saved is not None
    assert (saved.round_id, saved.config_hash) == (client.round_id, client.config_hash)
    assert saved.finished is False and saved.client is None  # walked out: nothing to resume
    assert saved.joined == (earlier,) and sf.history() == (earlier,)
    assert saved.counter == kept.counter + 1  # each write moves the monotonic counter on
    with pytest.raises(StoreError):
        sf.resume(fed.roster)
    with pytest.raises(RollbackError):  # the abandoned round cannot be started again
        sf.start(config, fed.roster)
    with pytest.raises(StoreError):
        sf.finished_config_hash()


def test_abandoning_with_no_earlier_file_starts_an_empty_history(tmp_path: Path) -> None:
    fed, files = _federation(3, tmp_path)
    sf = files[sorted(files)[0]]
    config = fed.server.configure()
    client = sf.start(config, fed.roster)
    client.advertise_keys(config)
    sf.abandon(client)
    saved = sf.load()
    assert saved is not None and saved.joined == () and saved.client is None
    assert saved.round_id == client.round_id and not saved.finished
